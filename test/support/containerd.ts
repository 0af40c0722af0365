// A real containerd (Debian's 1.6) for integration tests, with its own root, state, socket, runc
// root, CNI network (a bridge with its own name on its own subnet) and IPAM data in a temp dir.
// Registries (docker.io, and by default registry.k8s.io) are mirrored to a test registry; the
// sandbox image comes from there. stop() removes every pod through the CRI, stops containerd, kills
// what is left of its containers and shims, unmounts, removes the bridge and the temp dir — even
// after a failed test — and undoes the rest in one of two scopes:
//
// - 'subnet' (the node tests): network namespaces holding an address of the subnet, and the
//   iptables rules and chains that appeared since start and name the subnet or the bridge.
// - 'owned' (the CLI test): only what belongs to this containerd's pods and containers, by ID,
//   network name and netns path — including what containerd 1.6 writes where its config cannot
//   move it: shim sockets in /run/containerd/s, network namespaces in /var/run/netns, CNI result
//   caches in /var/lib/cni, sometimes /run/containerd/runc/k8s.io, and cgroups. A directory there
//   is removed only when this run created it and left it empty: other runtimes keep theirs.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectCri } from '../../src/cri/cri-client.ts';
import {
  type IptablesSnapshot,
  removeNetnsInSubnet,
  restoreIptables,
  snapshotIptables,
  splitRule,
} from '../agent/support/host-network-cleanup.ts';
import { bridgeConflist } from './cni-conflist.ts';

const execFileAsync = promisify(execFile);

export const CONTAINERD_BINARY = '/usr/bin/containerd';
export const RUNC_BINARY = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';
const K8S_NAMESPACE = 'k8s.io';

/** Host places containerd 1.6 writes whatever its config says. */
const HOST_DIRS = {
  runContainerd: '/run/containerd',
  shimSockets: '/run/containerd/s',
  runcDefaultRoot: '/run/containerd/runc',
  runcDefaultNamespace: '/run/containerd/runc/k8s.io',
  netns: '/var/run/netns',
  cni: '/var/lib/cni',
  cniResults: '/var/lib/cni/results',
} as const;

export interface ContainerdOptions {
  /** `127.0.0.1:PORT` of the registry that stands in for the mirrored registries. */
  registryHost: string;
  /** Default docker.io and registry.k8s.io. */
  mirroredRegistries?: string[];
  /** The sandbox ("pause") image, pulled through the mirror. Default registry.k8s.io/pause:3.9. */
  sandboxImage?: string;
  /** Default 10.99.0.0/16. */
  subnet?: string;
  /** Whether the CNI network chains the portmap plugin after the bridge. Default true. */
  portmap?: boolean;
  /** Which host state stop() undoes besides containerd's own (see the file's comment). Default 'subnet'. */
  cleanup?: 'subnet' | 'owned';
  /** Temp dir, bridge and network names: prefix plus a random suffix. Default `berth-ctrd-`, `bt` and `berth-test-bt`. */
  names?: { tempDirPrefix: string; bridgePrefix: string; networkPrefix: string };
}

export interface TestContainerd {
  /** `unix:///…/containerd.sock` */
  readonly endpoint: string;
  readonly socket: string;
  readonly dir: string;
  readonly bridge: string;
  readonly subnet: string;
  /** The CNI network name (unique to this run). */
  readonly network: string;
  /** host-local's data directory of the network (one file per allocated IP). */
  readonly ipamNetworkDir: string;
  /** containerd's process ID (of setpriv, which execs it). */
  readonly pid: number;
  /** What containerd wrote on stdout and stderr (the last 512 KiB). */
  logs(): string;
  /**
   * What the pods and containers of this containerd left on the host while it still runs: shim
   * sockets, network namespaces, CNI caches, NAT chains, runc state, mounts of theirs. Empty
   * after every pod was stopped and removed.
   */
  leftovers(): Promise<string[]>;
  /** Removes every pod, stops containerd and cleans the host (see the file's comment). Idempotent. Returns what it had to clean by force. */
  stop(): Promise<string[]>;
}

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

function configToml(o: {
  dir: string;
  socket: string;
  registryHost: string;
  mirroredRegistries: string[];
  sandboxImage: string;
  cniConfDir: string;
}): string {
  const mirrors = o.mirroredRegistries
    .map(
      (registry) => `        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registry}"]
          endpoint = ["http://${o.registryHost}"]
`,
    )
    .join('');
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
${mirrors}`;
}

async function tryRun(file: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(file, args, { timeout: 15_000 })).stdout;
  } catch {
    return '';
  }
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

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** The shim socket containerd 1.6 makes for a task (or a pod's shared shim): /run/containerd/s/sha256(address/namespace/id). */
export function shimSocketPath(containerdAddress: string, id: string): string {
  const digest = createHash('sha256')
    .update(path.join(containerdAddress, K8S_NAMESPACE, id))
    .digest('hex');
  return path.join(HOST_DIRS.shimSockets, digest);
}

/** The NAT chain the bridge plugin makes for a pod's masquerade rule (sha512 of network name and container ID). */
export function masqueradeChain(network: string, sandboxId: string): string {
  const digest = createHash('sha512')
    .update(network + sandboxId)
    .digest('hex');
  return `CNI-${digest}`.slice(0, 28);
}

/** Mount points at or below `dir`, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

async function isMountPoint(p: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === p);
}

/** Pids of processes (not us) whose command line mentions `needle`. */
async function pidsMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await listDir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

/** iptables-save lines of a table: chain names and rules. */
async function iptablesTable(table: string): Promise<{ chains: string[]; rules: string[] }> {
  const text = await tryRun('iptables-save', ['-t', table]);
  const chains: string[] = [];
  const rules: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) chains.push(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) rules.push(line);
  }
  return { chains, rules };
}

/** `10.98.0.` for 10.98.0.0/24. */
function subnetPrefix(subnet: string): string {
  const [address, bits] = subnet.split('/');
  return `${address!
    .split('.')
    .slice(0, Math.floor(Number(bits) / 8))
    .join('.')}.`;
}

/** Stops and removes every container and pod containerd still has, through the CRI; returns what it found. */
async function removeEverythingThroughCri(endpoint: string): Promise<string[]> {
  const removed: string[] = [];
  const cri = connectCri(endpoint);
  try {
    const opts = { timeoutMs: 30_000 };
    for (const c of (await cri.runtime.listContainers({}, opts)).containers) {
      removed.push(`container ${c.id}`);
      await cri.runtime.stopContainer({ containerId: c.id, timeout: 0n }, opts).catch(() => undefined);
      await cri.runtime.removeContainer({ containerId: c.id }, opts).catch(() => undefined);
    }
    for (const s of (await cri.runtime.listPodSandbox({}, opts)).items) {
      removed.push(`pod ${s.id}`);
      await cri.runtime.stopPodSandbox({ podSandboxId: s.id }, opts).catch(() => undefined);
      await cri.runtime.removePodSandbox({ podSandboxId: s.id }, opts).catch(() => undefined);
    }
  } catch {
    // containerd does not answer: the steps after it clean up
  } finally {
    cri.close();
  }
  return removed;
}

/** Kills and deletes the containers runc still runs under `root` (all of them, or only `ids`). */
async function killRuncContainers(root: string, ids?: Set<string>): Promise<string[]> {
  const killed: string[] = [];
  const running = (await tryRun(RUNC_BINARY, ['--root', root, 'list', '-q']))
    .split('\n')
    .filter((id) => id !== '' && (ids === undefined || ids.has(id)));
  for (const id of running) {
    killed.push(`runc container ${id}`);
    await tryRun(RUNC_BINARY, ['--root', root, 'kill', '--all', id, 'KILL']);
    await tryRun(RUNC_BINARY, ['--root', root, 'delete', '--force', id]);
  }
  return killed;
}

export async function startContainerd(options: ContainerdOptions): Promise<TestContainerd> {
  const cleanup = options.cleanup ?? 'subnet';
  const names = options.names ?? { tempDirPrefix: 'berth-ctrd-', bridgePrefix: 'bt', networkPrefix: 'berth-test-bt' };
  const hostDirsBefore = new Map<string, boolean>(Object.values(HOST_DIRS).map((d) => [d, existsSync(d)]));
  const iptablesBefore: IptablesSnapshot | undefined = cleanup === 'subnet' ? await snapshotIptables() : undefined;
  const dir = await mkdtemp(path.join(tmpdir(), names.tempDirPrefix));
  const socket = path.join(dir, 'containerd.sock');
  const endpoint = `unix://${socket}`;
  const subnet = options.subnet ?? '10.99.0.0/16';
  const suffix = randomBytes(3).toString('hex');
  const bridge = `${names.bridgePrefix}${suffix}`;
  const network = `${names.networkPrefix}${suffix}`;
  const cniConfDir = path.join(dir, 'cni', 'net.d');
  const ipamDir = path.join(dir, 'cni', 'ipam');
  const runcRoot = path.join(dir, 'runc');
  const taskDir = path.join(dir, 'state', 'io.containerd.runtime.v2.task', K8S_NAMESPACE);
  let child: ChildProcess | undefined;
  let log = '';
  // Everything seen of our pods and containers, so that cleanup knows them after containerd is gone.
  const ids = new Set<string>();
  const sandboxIds = new Set<string>();
  const netnsPaths = new Set<string>();

  /** libcni's result caches: `<network>-<id>-<ifname>` for our network, `cni-loopback-<id>-lo` for our pods. */
  const isOurCniCache = (file: string): boolean =>
    file.startsWith(`${network}-`) || [...sandboxIds].some((id) => file === `cni-loopback-${id}-lo`);

  /** Learns IDs and netns paths from the CRI (when it answers) and from the task bundles on disk. */
  const discover = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null) {
      const cri = connectCri(endpoint);
      try {
        const options = { timeoutMs: 10_000 };
        for (const s of (await cri.runtime.listPodSandbox({}, options)).items) {
          ids.add(s.id);
          sandboxIds.add(s.id);
        }
        for (const c of (await cri.runtime.listContainers({}, options)).containers) ids.add(c.id);
      } catch {
        // not answering: the bundles below still tell
      } finally {
        cri.close();
      }
    }
    for (const id of await listDir(taskDir)) {
      ids.add(id);
      const spec = await readFile(path.join(taskDir, id, 'config.json'), 'utf8').catch(() => '');
      if (spec === '') continue;
      try {
        const parsed = JSON.parse(spec) as {
          linux?: { namespaces?: { type: string; path?: string }[] };
          annotations?: Record<string, string>;
        };
        if (parsed.annotations?.['io.kubernetes.cri.container-type'] === 'sandbox') sandboxIds.add(id);
        // The pod's pinned namespace; its containers join it through /proc/<pid>/ns/net, which is not ours to remove.
        for (const ns of parsed.linux?.namespaces ?? []) {
          if (ns.type === 'network' && ns.path !== undefined && /^\/(var\/)?run\/netns\//.test(ns.path)) netnsPaths.add(ns.path);
        }
      } catch {
        // half-written bundle
      }
    }
  };

  const leftovers = async (): Promise<string[]> => {
    await discover();
    const found: string[] = [];
    for (const id of ids) {
      const sock = shimSocketPath(socket, id);
      if (existsSync(sock)) found.push(`shim socket ${sock} (${id})`);
      if (existsSync(path.join(HOST_DIRS.runcDefaultNamespace, id))) found.push(`runc state ${HOST_DIRS.runcDefaultNamespace}/${id}`);
      if (existsSync(path.join(runcRoot, K8S_NAMESPACE, id))) found.push(`runc state ${runcRoot}/${K8S_NAMESPACE}/${id}`);
    }
    for (const p of netnsPaths) if (existsSync(p)) found.push(`network namespace ${p}`);
    for (const id of ids) {
      for (const controller of await listDir('/sys/fs/cgroup')) {
        const cgroup = path.join('/sys/fs/cgroup', controller, K8S_NAMESPACE, id);
        if (existsSync(cgroup)) found.push(`cgroup ${cgroup}`);
      }
    }
    for (const f of await listDir(HOST_DIRS.cniResults)) if (isOurCniCache(f)) found.push(`CNI cache ${HOST_DIRS.cniResults}/${f}`);
    const nat = await iptablesTable('nat');
    for (const id of sandboxIds) {
      const chain = masqueradeChain(network, id);
      if (nat.chains.includes(chain)) found.push(`NAT chain ${chain}`);
    }
    const prefix = subnetPrefix(subnet);
    for (const rule of nat.rules) if (rule.includes(` ${prefix}`)) found.push(`NAT rule ${rule}`);
    for (const id of ids) {
      for (const m of await mountsUnder(dir)) if (m.includes(id)) found.push(`mount ${m}`);
    }
    return [...new Set(found)];
  };

  /** What only the 'owned' scope undoes: our pods' netns, NAT rules and chains, and containerd 1.6's host directories. */
  const cleanOwned = async (forced: string[]): Promise<void> => {
    // Network namespaces of our pods, and anything else holding an address of our subnet.
    const prefix = subnetPrefix(subnet);
    for (const name of await listDir(HOST_DIRS.netns)) {
      const addresses = await tryRun('ip', ['-n', name, '-4', '-o', 'addr', 'show']);
      if (addresses.includes(` ${prefix}`)) netnsPaths.add(path.join(HOST_DIRS.netns, name));
    }
    for (const p of netnsPaths) {
      if (!existsSync(p)) continue;
      forced.push(`network namespace ${p}`);
      // /var/run is a link to /run: the mount table names the real path.
      const real = await realpath(p).catch(() => p);
      if (await isMountPoint(real)) await tryRun('umount', ['-l', real]);
      await unlink(p).catch(() => undefined);
    }
    for (const m of await mountsUnder(dir)) {
      forced.push(`mount ${m}`);
      await tryRun('umount', ['-l', m]);
    }
    if ((await tryRun('ip', ['-o', 'link', 'show', bridge])) !== '') await tryRun('ip', ['link', 'delete', bridge]);
    // NAT: rules naming our subnet or our pods' chains, then those chains.
    const ourChains = new Set([...sandboxIds].map((id) => masqueradeChain(network, id)));
    for (const table of ['nat', 'filter']) {
      const { chains, rules } = await iptablesTable(table);
      for (const rule of rules) {
        const args = splitRule(rule);
        const chain = args[1]!;
        const target = /\s-[jg] (\S+)/.exec(rule)?.[1];
        if (rule.includes(` ${prefix}`) || ourChains.has(chain) || (target !== undefined && ourChains.has(target))) {
          forced.push(`iptables ${table} ${rule}`);
          await tryRun('iptables', ['-t', table, '-D', ...args.slice(1)]);
        }
      }
      for (const chain of chains.filter((c) => ourChains.has(c))) {
        forced.push(`iptables ${table} chain ${chain}`);
        await tryRun('iptables', ['-t', table, '-F', chain]);
        await tryRun('iptables', ['-t', table, '-X', chain]);
      }
    }
    // Host directories containerd 1.6 writes regardless of its config.
    for (const id of ids) {
      const sock = shimSocketPath(socket, id);
      if (existsSync(sock)) {
        forced.push(`shim socket ${sock}`);
        await rm(sock, { force: true });
      }
      const runcState = path.join(HOST_DIRS.runcDefaultNamespace, id);
      if (existsSync(runcState)) {
        forced.push(`runc state ${runcState}`);
        await rm(runcState, { recursive: true, force: true });
      }
      for (const controller of await listDir('/sys/fs/cgroup')) {
        const cgroup = path.join('/sys/fs/cgroup', controller, K8S_NAMESPACE, id);
        if (existsSync(cgroup)) {
          forced.push(`cgroup ${cgroup}`);
          await rmdir(cgroup).catch(() => undefined);
        }
      }
    }
    for (const f of await listDir(HOST_DIRS.cniResults)) {
      if (!isOurCniCache(f)) continue;
      forced.push(`CNI cache ${f}`);
      await rm(path.join(HOST_DIRS.cniResults, f), { force: true });
    }
    // Directories this run created, deepest first, when nothing else uses them.
    for (const d of [
      HOST_DIRS.runcDefaultNamespace,
      HOST_DIRS.runcDefaultRoot,
      HOST_DIRS.shimSockets,
      HOST_DIRS.runContainerd,
      HOST_DIRS.cniResults,
      HOST_DIRS.cni,
      HOST_DIRS.netns,
    ]) {
      if (hostDirsBefore.get(d) === false && existsSync(d)) await rmdir(d).catch(() => undefined);
    }
  };

  /** What only the 'subnet' scope undoes: namespaces with an address of the subnet, and iptables back to the snapshot. */
  const cleanSubnet = async (forced: string[], before: IptablesSnapshot): Promise<void> => {
    for (const name of await removeNetnsInSubnet(subnet)) forced.push(`network namespace ${name}`);
    for (const m of await mountsUnder(dir)) {
      forced.push(`mount ${m}`);
      await tryRun('umount', ['-l', m]);
    }
    if ((await tryRun('ip', ['-o', 'link', 'show', bridge])) !== '') await tryRun('ip', ['link', 'delete', bridge]);
    await restoreIptables(before, subnet, bridge);
  };

  let stopping: Promise<string[]> | undefined;
  const stop = (): Promise<string[]> => {
    stopping ??= (async () => {
      const forced: string[] = [];
      if (cleanup === 'owned') await discover();
      if (child !== undefined && child.exitCode === null) {
        forced.push(...(await removeEverythingThroughCri(endpoint)));
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      // Containers runc still runs, then shims (their command line names our socket).
      for (const namespace of await listDir(runcRoot)) forced.push(...(await killRuncContainers(path.join(runcRoot, namespace))));
      if (cleanup === 'owned') forced.push(...(await killRuncContainers(HOST_DIRS.runcDefaultNamespace, ids)));
      for (const pid of await pidsMentioning(socket)) {
        forced.push(`process ${pid}`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (iptablesBefore !== undefined) await cleanSubnet(forced, iptablesBefore);
      else await cleanOwned(forced);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      return forced;
    })();
    return stopping;
  };

  try {
    await mkdir(cniConfDir, { recursive: true });
    await writeFile(
      path.join(cniConfDir, '10-berth-test.conflist'),
      bridgeConflist(network, bridge, subnet, ipamDir, options.portmap ?? true),
    );
    const configPath = path.join(dir, 'config.toml');
    await writeFile(
      configPath,
      configToml({
        dir,
        socket,
        registryHost: options.registryHost,
        mirroredRegistries: options.mirroredRegistries ?? ['docker.io', 'registry.k8s.io'],
        sandboxImage: options.sandboxImage ?? 'registry.k8s.io/pause:3.9',
        cniConfDir,
      }),
    );
    // setpriv --pdeathsig: containerd dies with the test process even when the test crashes.
    const useSetpriv = existsSync('/usr/bin/setpriv');
    const command = useSetpriv ? '/usr/bin/setpriv' : CONTAINERD_BINARY;
    const args = useSetpriv ? ['--pdeathsig', 'SIGKILL', '--', CONTAINERD_BINARY, '--config', configPath] : ['--config', configPath];
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    const append = (chunk: Buffer): void => {
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
          // the CRI plugin is not ready yet
        } finally {
          cri.close();
        }
      }
      if (Date.now() > deadline) throw new Error(`containerd did not serve the CRI in time:\n${log.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const ipamNetworkDir = path.join(ipamDir, network);
  return { endpoint, socket, dir, bridge, subnet, network, ipamNetworkDir, pid: child.pid!, logs: () => log, leftovers, stop };
}
