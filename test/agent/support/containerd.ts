// A real containerd (Debian's package) for integration tests, with everything under a temp dir:
// root, state, socket, runc root, CNI config (bridge + portmap on its own bridge and subnet) and
// IPAM data. Registry mirrors for docker.io and registry.k8s.io point at a test registry; the
// sandbox image comes from there. stop() removes what containerd made on the host — sandboxes
// (through the CRI), processes, mounts, network namespaces, the bridge, iptables rules — even
// after a failed test.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectCri } from '../../../src/cri/cri-client.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { type IptablesSnapshot, removeLink, removeNetnsInSubnet, restoreIptables, snapshotIptables } from './host-network-cleanup.ts';
import { ipAllocationsOf, processesAndMountsOf, type RuntimeUnderTest, subnetPrefix } from './runtime-under-test.ts';

const run = promisify(execFile);

export interface ContainerdOptions {
  /** `127.0.0.1:PORT` of the registry that stands in for docker.io and registry.k8s.io. */
  registryHost: string;
  /** Default registry.k8s.io/pause:3.9 (through the mirror). */
  sandboxImage?: string;
  /** Default 10.99.0.0/16. */
  subnet?: string;
}

export interface TestContainerd {
  /** `unix:///…/containerd.sock` */
  readonly endpoint: string;
  readonly dir: string;
  readonly bridge: string;
  readonly subnet: string;
  /** host-local's data directory of the network (one file per allocated IP). */
  readonly ipamNetworkDir: string;
  logs(): string;
  /** Removes every sandbox, stops containerd, and cleans the host. Idempotent. */
  stop(): Promise<void>;
}

export const CONTAINERD_BINARY = '/usr/bin/containerd';
export const RUNC_BINARY = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';

/** Why containerd tests cannot run here, or undefined when they can. */
export function containerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const file of [
    CONTAINERD_BINARY,
    RUNC_BINARY,
    `${CNI_BIN_DIR}/bridge`,
    `${CNI_BIN_DIR}/portmap`,
    `${CNI_BIN_DIR}/host-local`,
    '/usr/bin/docker-registry',
    '/bin/busybox',
  ]) {
    if (!existsSync(file)) return `${file} is missing (run scripts/install-test-deps-containerd.sh)`;
  }
  return undefined;
}

function configToml(o: { dir: string; socket: string; registryHost: string; sandboxImage: string; cniConfDir: string }): string {
  const mirror = `["http://${o.registryHost}"]`;
  return `version = 2
root = "${o.dir}/root"
state = "${o.dir}/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "${o.socket}"

[ttrpc]
  address = "${o.socket}.ttrpc"

[debug]
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${o.dir}/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${o.sandboxImage}"
    restrict_oom_score_adj = true
    enable_selinux = false
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "${RUNC_BINARY}"
          Root = "${o.dir}/runc"
          SystemdCgroup = false

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${CNI_BIN_DIR}"
      conf_dir = "${o.cniConfDir}"
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".registry]
      [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
          endpoint = ${mirror}
        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
          endpoint = ${mirror}
`;
}

function cniConflist(name: string, bridge: string, subnet: string, ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Pids of processes whose command line mentions `needle` (shims started for this containerd). */
async function pidsMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await run('umount', ['-l', point]).catch(() => undefined);
}

async function killRuncContainers(runcRoot: string): Promise<void> {
  if (!existsSync(runcRoot)) return;
  for (const namespace of await readdir(runcRoot).catch(() => [] as string[])) {
    const root = path.join(runcRoot, namespace);
    const list = await run(RUNC_BINARY, ['--root', root, 'list', '-q']).catch(() => ({ stdout: '' }));
    for (const id of list.stdout.split('\n').filter(Boolean)) {
      await run(RUNC_BINARY, ['--root', root, 'kill', '--all', id, 'KILL']).catch(() => undefined);
      await run(RUNC_BINARY, ['--root', root, 'delete', '--force', id]).catch(() => undefined);
    }
  }
}

async function removeAllSandboxes(endpoint: string): Promise<void> {
  const cri = connectCri(endpoint);
  try {
    const options = { timeoutMs: 30_000 };
    const { items } = await cri.runtime.listPodSandbox({}, options);
    for (const sandbox of items) {
      await cri.runtime.stopPodSandbox({ podSandboxId: sandbox.id }, options).catch(() => undefined);
      await cri.runtime.removePodSandbox({ podSandboxId: sandbox.id }, options).catch(() => undefined);
    }
  } catch {
    // containerd is gone already: the fallbacks below clean up
  } finally {
    cri.close();
  }
}

export async function startContainerd(options: ContainerdOptions): Promise<TestContainerd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-ctrd-'));
  const socket = path.join(dir, 'containerd.sock');
  const endpoint = `unix://${socket}`;
  const subnet = options.subnet ?? '10.99.0.0/16';
  const bridge = `bt${randomBytes(3).toString('hex')}`;
  const cniConfDir = path.join(dir, 'cni', 'net.d');
  const iptablesBefore: IptablesSnapshot = await snapshotIptables();
  let child: ChildProcess | undefined;
  let log = '';

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child !== undefined && child.exitCode === null) await removeAllSandboxes(endpoint);
      if (child !== undefined) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      await killRuncContainers(path.join(dir, 'runc'));
      for (const pid of await pidsMentioning(socket)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await removeNetnsInSubnet(subnet);
      await unmountUnder(dir);
      await removeLink(bridge);
      await restoreIptables(iptablesBefore, subnet, bridge);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    await mkdir(cniConfDir, { recursive: true });
    await writeFile(
      path.join(cniConfDir, '10-berth-test.conflist'),
      cniConflist(`berth-test-${bridge}`, bridge, subnet, path.join(dir, 'cni', 'ipam')),
    );
    const configPath = path.join(dir, 'config.toml');
    await writeFile(
      configPath,
      configToml({
        dir,
        socket,
        registryHost: options.registryHost,
        sandboxImage: options.sandboxImage ?? 'registry.k8s.io/pause:3.9',
        cniConfDir,
      }),
    );
    const useSetpriv = existsSync('/usr/bin/setpriv');
    const command = useSetpriv ? '/usr/bin/setpriv' : CONTAINERD_BINARY;
    const args = useSetpriv ? ['--pdeathsig', 'SIGKILL', '--', CONTAINERD_BINARY, '--config', configPath] : ['--config', configPath];
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` } });
    const append = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.length > 512 * 1024) log = log.slice(-512 * 1024);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const started = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) throw new Error(`containerd exited early:\n${log.slice(-4000)}`);
      if (existsSync(socket)) {
        const cri = connectCri(endpoint);
        try {
          await cri.runtime.version({}, { timeoutMs: 2000 });
          break;
        } catch {
          // CRI plugin not ready yet
        } finally {
          cri.close();
        }
      }
      if (Date.now() > deadline) throw new Error(`containerd did not serve CRI in time:\n${log.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const ipamNetworkDir = path.join(dir, 'cni', 'ipam', `berth-test-${bridge}`);
  return { endpoint, dir, bridge, subnet, ipamNetworkDir, logs: () => log, stop };
}

/** containerd as a runtime under test for the node scenarios. */
export async function startContainerdRuntime(registry: TestRegistry, options: { subnet?: string } = {}): Promise<RuntimeUnderTest> {
  const containerd = await startContainerd({ registryHost: registry.host, ...(options.subnet ? { subnet: options.subnet } : {}) });
  return {
    endpoint: containerd.endpoint,
    subnet: containerd.subnet,
    runtimeName: 'containerd',
    logs: containerd.logs,
    async leftovers({ sandboxes, containers }) {
      return [
        ...(await processesAndMountsOf([...sandboxes, ...containers])),
        ...(await ipAllocationsOf(containerd.ipamNetworkDir, sandboxes)),
      ];
    },
    stop: containerd.stop,
    async hostLeftovers() {
      const found: string[] = [];
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      if (mounts.includes(containerd.dir)) found.push(`mounts under ${containerd.dir}`);
      const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
      if (links.includes(`${containerd.bridge}:`)) found.push(`the bridge ${containerd.bridge}`);
      const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
      const prefix = subnetPrefix(containerd.subnet);
      for (const line of nat.split('\n')) if (line.includes(prefix)) found.push(`NAT rule ${line}`);
      return found;
    },
  };
}
