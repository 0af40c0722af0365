// Fixtures for the pod and container integration tests (test/pods): a real registry with a
// busybox-like image and a pause-like sandbox image, a real `berth daemon` (test/support/daemon.ts)
// configured for them, a CNI network of the test file's own (bridge `berthpodN`, subnet
// 10.96.N.0/24, host-local IPAM with its data in the temp dir), CRI config builders, and what a pod
// can leave on the host (mounts, namespaces, veths, IP allocations, cgroups, processes, state
// files, firewall chains), to look for after removal and to clean by force after a failed run.
//
//   const env = await startPodEnv({ index: 1 });
//   try {
//     const podId = await env.runPod(env.podConfig('web'));
//     ...
//   } finally {
//     await env.cleanUp();
//   }
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { CriClient } from '../../src/cri/cri-client.ts';
import type { ContainerConfigSchema, PodSandboxConfigSchema } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { sleep } from '../../src/util/sleep.ts';
import { startDaemon, type TestDaemon } from './daemon.ts';
import { busyboxLikeImage, pushImage } from './image-builder.ts';
import { startRegistry, type TestRegistry } from './registry.ts';

export { expectCriError, setUpAndTearDown } from './cri-test.ts';
export { sleep };

/** The registry host the test images are named by; the daemon reaches it through a mirror. */
export const IMAGE_HOST = 'registry.pods.test';
export const BUSYBOX = `${IMAGE_HOST}/library/busybox:1`;
export const PAUSE = `${IMAGE_HOST}/library/pause:1`;
export const CNI_BIN_DIR = '/usr/lib/cni';

/** A PodSandboxConfig as plain data (what the CRI client takes). */
export type PodInit = Extract<MessageInitShape<typeof PodSandboxConfigSchema>, { $typeName?: undefined }>;
/** A ContainerConfig as plain data. */
export type ContainerInit = Extract<MessageInitShape<typeof ContainerConfigSchema>, { $typeName?: undefined }>;

// ---------------------------------------------------------------------------------------------
// Small helpers

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

/** True while a process with this pid exists (zombies count as gone). */
export function pidAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Cgroups and mounts of the host

/** Mount points of every cgroup hierarchy (v1 controllers and the v2 tree), each once. */
export async function cgroupMounts(): Promise<string[]> {
  const out = new Set<string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const type = line.slice(sep + 3).split(' ')[0];
    if (type === 'cgroup' || type === 'cgroup2') out.add(line.split(' ')[4]!);
  }
  return [...out];
}

/** The v1 memory controller's directory of `cgroupPath` (cgroup v1 or hybrid hosts), else the v2 one. */
export async function memoryCgroupDir(cgroupPath: string): Promise<string> {
  const mounts = await cgroupMounts();
  const v1 = mounts.find((m) => m.endsWith('/memory'));
  if (v1 !== undefined) return path.join(v1, cgroupPath);
  const v2 = mounts.find((m) => m === '/sys/fs/cgroup' || m.endsWith('/unified'));
  assert.ok(v2, 'no memory cgroup hierarchy is mounted');
  return path.join(v2, cgroupPath);
}

/** Every mount point in /proc/self/mountinfo (octal escapes undone). */
export async function allMountPoints(): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    out.push(field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))));
  }
  return out;
}

/** Pids of processes whose command line contains `needle`. */
export async function pidsWithCmdline(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.replaceAll('\0', ' ').includes(needle)) out.push(Number(name));
  }
  return out;
}

/** Names of the links enslaved to `bridge`. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show', 'master', bridge]);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

/** The iptables chain names the CNI plugins derive from (network, container id): bridge's masquerade chain, portmap's DNAT chain. */
export function cniChainNames(network: string, containerId: string): string[] {
  const hash = createHash('sha512')
    .update(network + containerId)
    .digest('hex');
  return [`CNI-${hash}`.slice(0, 28), `CNI-DN-${hash}`.slice(0, 28)];
}

/** `iptables -S` lines of a table (nat, filter). */
async function iptablesLines(table: string): Promise<string[]> {
  const r = await run('iptables', ['-w', '-t', table, '-S']);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
}

/** Splits an `iptables -S` line into words (double-quoted words kept whole). */
function shellWords(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The environment

export interface PodEnvOptions {
  /** N of the bridge `berthpodN` and the subnet 10.96.N.0/24: one per test file. */
  index: number;
  /** A /24 of the test file's own in place of 10.96.N.0/24, as `10.157.0.`. */
  subnetPrefix?: string;
  /** Plugins after `bridge` in the conflist. Default: portmap. */
  plugins?: Record<string, unknown>[];
  /** The bridge plugin masquerades the pod's traffic (an iptables chain per pod). Default false. */
  ipMasq?: boolean;
  /** Also search a temp plugin directory (before the system's) for the tests' own plugins. */
  extraBinDir?: boolean;
  /** More daemon config (top-level keys). */
  extraConfig?: string;
}

export interface PodNet {
  /** The network's name in the conflist. */
  name: string;
  bridge: string;
  subnet: string;
  /** `10.96.N.` (or the given /24's three octets and a dot) */
  prefix: string;
  confDir: string;
  conflist: string;
  /** host-local's dataDir; the network's allocations are in `<ipamDir>/<name>/`. */
  ipamDir: string;
  /** The extra plugin dir, when asked for. */
  binDir?: string;
}

export interface PodEnv {
  readonly registry: TestRegistry;
  readonly daemon: TestDaemon;
  readonly cri: CriClient;
  readonly net: PodNet;
  /** A directory in the temp dir for pod logs (a pod's log_directory). */
  readonly logRoot: string;
  /** Pods and containers the tests made through this env (for leak checks and forced cleanup). */
  readonly podIds: Set<string>;
  readonly containerIds: Set<string>;
  /** Cgroup parents the tests asked for (removed at cleanUp). */
  readonly cgroupParents: Set<string>;
  /**
   * A pod config: metadata (uid from the name), a log directory, the env's cgroup parent (unless
   * `extra.linux` has one), and `extra` over it.
   */
  podConfig(name: string, extra?: PodInit): PodInit;
  /** A container config on the busybox image running `sh -c script` (default: sleep forever). */
  containerConfig(name: string, script?: string, extra?: ContainerInit): ContainerInit;
  runPod(config: PodInit, runtimeHandler?: string): Promise<string>;
  createContainer(podId: string, config: ContainerInit, podConfig?: PodInit): Promise<string>;
  /** Create and start. */
  startContainer(podId: string, config: ContainerInit, podConfig?: PodInit): Promise<string>;
  /** Writes the conflist again with these plugins after `bridge` (the daemon reads it on every RunPodSandbox). */
  writeConflist(plugins: Record<string, unknown>[]): Promise<void>;
  /** The IP allocation files of the network (host-local: one file per IP). */
  ipAllocations(): Promise<string[]>;
  /**
   * Everything of pods and containers on the host, as sorted lines: state entries (ns/, pods/,
   * containers/, monitors/, runtimes/), mounts below the temp dir and the root (but the
   * daemon's namespace root), veths on the
   * bridge, IP allocations, CNI cache records, active snapshots, cgroups below the env's pod cgroup
   * parents (podConfig gives each pod one),
   * and processes whose command line names the state dir (conmon). Two snapshots around a failed
   * call must be equal.
   */
  hostState(): Promise<string[]>;
  /** What remains on the host of these pods and containers (empty when nothing). */
  leftovers(ids: { pods?: Iterable<string>; containers?: Iterable<string> }): Promise<string[]>;
  /**
   * Removes every pod (and so every container) through CRI, starting the daemon again first if a
   * test left it down: for `afterEach`, so that one failed test does not fail the next ones.
   */
  removeAllPods(): Promise<void>;
  /** Removes every pod, stops the daemon and the registry, cleans by force what remains. Returns what it cleaned by force. */
  cleanUp(): Promise<string[]>;
}

/** The state and root entries the daemon keeps per pod and per container (see src/cli/daemon-pods.ts, conmon-runtime.ts). */
function stateEntries(daemon: TestDaemon, runtimes: string[], id: string): string[] {
  const out = [path.join(daemon.state, 'pods', id), path.join(daemon.state, 'containers', id), path.join(daemon.state, 'ns', id)];
  for (const rt of runtimes) {
    out.push(
      path.join(daemon.state, 'monitors', rt, 'containers', id),
      path.join(daemon.state, 'monitors', rt, 'exits', id),
      path.join(daemon.state, 'monitors', rt, 'attach', id),
      path.join(daemon.state, 'runtimes', rt, id),
    );
  }
  return out;
}

async function dirNames(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

export async function startPodEnv(options: PodEnvOptions): Promise<PodEnv> {
  const n = options.index;
  let registry: TestRegistry | undefined;
  let daemon: TestDaemon | undefined;
  try {
    registry = await startRegistry();
    await pushImage(registry, 'library/busybox:1', busyboxLikeImage());
    await pushImage(registry, 'library/pause:1', busyboxLikeImage({ config: { Entrypoint: ['/bin/sleep', '2147483647'], Cmd: null } }));
    daemon = await startDaemon({
      registries: { [IMAGE_HOST]: { mirrors: [registry.url] } },
      extraConfig: `sandbox_image = ${JSON.stringify(PAUSE)}\n${options.extraConfig ?? ''}`,
    });
    const confDir = path.join(daemon.dir, 'cni');
    const net: PodNet = {
      name: `berth-pods-${n}`,
      bridge: `berthpod${n}`,
      subnet: `${options.subnetPrefix ?? `10.96.${n}.`}0/24`,
      prefix: options.subnetPrefix ?? `10.96.${n}.`,
      confDir,
      conflist: path.join(confDir, '10-berth-pods.conflist'),
      ipamDir: path.join(daemon.dir, 'ipam'),
    };
    if (options.extraBinDir) {
      net.binDir = path.join(daemon.dir, 'cni-bin');
      await mkdir(net.binDir, { recursive: true });
      // The daemon fixture writes `[cni]` itself: add bin_dirs to that table and start again.
      const text = await readFile(daemon.configPath, 'utf8');
      await writeFile(daemon.configPath, text.replace(/^\[cni\]\n/m, `[cni]\nbin_dirs = ${JSON.stringify([net.binDir, CNI_BIN_DIR])}\n`));
      await daemon.restart();
    }
    const d = daemon;
    const reg = registry;
    const logRoot = path.join(d.dir, 'logs');
    await mkdir(logRoot, { recursive: true });
    const podIds = new Set<string>();
    const containerIds = new Set<string>();
    // The pods' own cgroup parent (as the kubelet gives one per pod): what is below it is this env's only.
    const defaultCgroupParent = `/berth-pods-${n}-${process.pid}`;
    const cgroupParents = new Set<string>([defaultCgroupParent]);

    const writeConflist = async (plugins: Record<string, unknown>[]): Promise<void> => {
      const doc = {
        cniVersion: '1.0.0',
        name: net.name,
        plugins: [
          {
            type: 'bridge',
            bridge: net.bridge,
            isGateway: true,
            ipMasq: options.ipMasq ?? false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: net.subnet }]], dataDir: net.ipamDir, routes: [{ dst: '0.0.0.0/0' }] },
          },
          ...plugins,
        ],
      };
      await writeFile(net.conflist, `${JSON.stringify(doc, null, 2)}\n`);
    };
    await writeConflist(options.plugins ?? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }]);

    await d.cri.image.pullImage({ image: { image: BUSYBOX } });
    await d.cri.image.pullImage({ image: { image: PAUSE } });

    const runtimes = async (): Promise<string[]> => {
      const names = new Set([...(await dirNames(path.join(d.state, 'monitors'))), ...(await dirNames(path.join(d.state, 'runtimes')))]);
      names.add('runc');
      return [...names];
    };

    const leftovers = async (ids: { pods?: Iterable<string>; containers?: Iterable<string> }): Promise<string[]> => {
      const pods = [...(ids.pods ?? [])];
      const containers = [...(ids.containers ?? [])];
      const all = [...pods, ...containers];
      const found: string[] = [];
      const rts = await runtimes();
      for (const id of all) for (const f of stateEntries(d, rts, id)) if (existsSync(f)) found.push(`state file ${f}`);
      for (const m of await allMountPoints()) if (all.some((id) => m.includes(id))) found.push(`mount ${m}`);
      for (const f of await dirNames(path.join(d.root, 'cni'))) if (pods.some((id) => f.includes(id))) found.push(`CNI cache ${f}`);
      const parents = ['/berth', ...cgroupParents];
      for (const mount of await cgroupMounts()) {
        for (const parent of parents) {
          for (const id of all) {
            const dir = path.join(mount, parent, id);
            if (existsSync(dir)) found.push(`cgroup ${dir}`);
          }
        }
      }
      for (const id of all) for (const pid of await pidsWithCmdline(id)) found.push(`process ${pid} (${id.slice(0, 12)})`);
      for (const f of await dirNames(path.join(net.ipamDir, net.name))) {
        if (f === 'lock' || f.startsWith('last_reserved_ip')) continue;
        // host-local writes "<container id>\r\n<interface>".
        const owner = (await readFile(path.join(net.ipamDir, net.name, f), 'utf8').catch(() => '')).split(/\r?\n/)[0] ?? '';
        if (pods.includes(owner)) found.push(`IP allocation ${f} (${owner.slice(0, 12)})`);
      }
      const nat = await iptablesLines('nat');
      const filter = await iptablesLines('filter');
      for (const id of pods) {
        for (const chain of cniChainNames(net.name, id)) {
          if ([...nat, ...filter].some((l) => l === `-N ${chain}`)) found.push(`iptables chain ${chain}`);
        }
        for (const l of [...nat, ...filter]) if (l.includes(id)) found.push(`iptables rule ${l}`);
      }
      return found;
    };

    const hostState = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const sub of ['ns', 'pods', 'containers'])
        for (const f of await dirNames(path.join(d.state, sub))) out.push(`state ${sub}/${f}`);
      for (const rt of await runtimes()) {
        for (const sub of ['containers', 'exits', 'attach']) {
          for (const f of await dirNames(path.join(d.state, 'monitors', rt, sub))) out.push(`state monitors/${rt}/${sub}/${f}`);
        }
        for (const f of await dirNames(path.join(d.state, 'runtimes', rt))) out.push(`state runtimes/${rt}/${f}`);
      }
      // The namespace root (a bind mount of itself, made at the first pod) is the daemon's, not a pod's.
      for (const m of await d.mounts()) if (m !== path.join(d.state, 'ns')) out.push(`mount ${m}`);
      for (const port of await bridgePorts(net.bridge)) out.push(`veth ${port}`);
      for (const f of await ipAllocations()) out.push(`IP allocation ${f}`);
      for (const f of await dirNames(path.join(d.root, 'cni'))) out.push(`CNI cache ${f}`);
      const snapshots = await readFile(path.join(d.root, 'snapshots', 'metadata.json'), 'utf8')
        .then((t) => (JSON.parse(t) as { snapshots: { key: string; kind: string }[] }).snapshots)
        .catch(() => []);
      for (const snap of snapshots) if (snap.kind !== 'committed') out.push(`snapshot ${snap.key}`);
      for (const mount of await cgroupMounts()) {
        for (const parent of cgroupParents) {
          for (const f of await readdir(path.join(mount, parent), { withFileTypes: true }).catch(() => [])) {
            if (f.isDirectory()) out.push(`cgroup ${path.join(mount, parent, f.name)}`);
          }
        }
      }
      for (const pid of await pidsWithCmdline(d.state)) out.push(`process ${pid}`);
      return out.sort();
    };

    const ipAllocations = async (): Promise<string[]> =>
      (await dirNames(path.join(net.ipamDir, net.name))).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));

    const forceClean = async (): Promise<string[]> => {
      const forced: string[] = [];
      // Processes: conmon (its command line names the container) and what runs in the containers.
      const ids = new Set([...podIds, ...containerIds]);
      for (const id of await dirNames(path.join(d.state, 'containers'))) ids.add(id);
      for (const id of await dirNames(path.join(d.state, 'pods'))) ids.add(id);
      for (const rt of await runtimes()) for (const id of await dirNames(path.join(d.state, 'runtimes', rt))) ids.add(id);
      for (const rt of await runtimes()) {
        const root = path.join(d.state, 'runtimes', rt);
        for (const id of await dirNames(root)) {
          const binary = rt === 'crun' ? '/usr/bin/crun' : '/usr/sbin/runc';
          forced.push(`runtime container ${id}`);
          await run(binary, ['--root', root, 'kill', '--all', id, 'KILL']);
          await sleep(100);
          await run(binary, ['--root', root, 'delete', '--force', id]);
        }
      }
      for (const id of ids) {
        for (const pid of await pidsWithCmdline(id)) {
          forced.push(`process ${pid}`);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
      }
      // Cgroups of the containers (a process may need a moment to leave).
      for (const mount of await cgroupMounts()) {
        for (const parent of ['/berth', ...cgroupParents]) {
          for (const id of ids) {
            const dir = path.join(mount, parent, id);
            if (!existsSync(dir)) continue;
            forced.push(`cgroup ${dir}`);
            await waitFor(`rmdir ${dir}`, () => rmdir(dir).then(() => true), 5000).catch(() => {});
          }
        }
      }
      // Firewall rules and chains of the pods.
      for (const table of ['nat', 'filter']) {
        const lines = await iptablesLines(table);
        const chains = new Set([...podIds].flatMap((id) => cniChainNames(net.name, id)));
        for (const l of lines) {
          if (!l.startsWith('-A ')) continue;
          if (![...podIds].some((id) => l.includes(id)) && ![...chains].some((c) => l.includes(c))) continue;
          forced.push(`iptables ${table} ${l}`);
          const words = shellWords(l);
          await run('iptables', ['-w', '-t', table, '-D', ...words.slice(1)]);
        }
        for (const c of chains) {
          if (!lines.includes(`-N ${c}`)) continue;
          forced.push(`iptables chain ${c}`);
          await run('iptables', ['-w', '-t', table, '-F', c]);
          await run('iptables', ['-w', '-t', table, '-X', c]);
        }
      }
      // Links: the pods' veths go with their namespaces; the bridge is the test's own.
      for (const port of await bridgePorts(net.bridge)) {
        forced.push(`veth ${port}`);
        await run('ip', ['link', 'del', port]);
      }
      return forced;
    };

    const cleanUp = async (): Promise<string[]> => {
      const forced: string[] = [];
      if (d.running) {
        const opts = { timeoutMs: 60_000 };
        try {
          for (const c of (await d.cri.runtime.listContainers({}, opts)).containers) {
            await d.cri.runtime
              .removeContainer({ containerId: c.id }, opts)
              .catch((e: Error) => forced.push(`remove container ${c.id}: ${e.message}`));
          }
          for (const s of (await d.cri.runtime.listPodSandbox({}, opts)).items) {
            await d.cri.runtime
              .stopPodSandbox({ podSandboxId: s.id }, opts)
              .catch((e: Error) => forced.push(`stop pod ${s.id}: ${e.message}`));
            await d.cri.runtime
              .removePodSandbox({ podSandboxId: s.id }, opts)
              .catch((e: Error) => forced.push(`remove pod ${s.id}: ${e.message}`));
          }
        } catch (e) {
          forced.push(`CRI cleanup: ${(e as Error).message}`);
        }
      }
      await d.terminate();
      forced.push(...(await forceClean()));
      // Unmounts what is left below the temp dir (namespace files, rootfs, shm) and removes it.
      forced.push(...(await d.stop()).map((m) => `mount ${m}`));
      await run('ip', ['link', 'del', net.bridge]);
      for (const mount of await cgroupMounts()) {
        for (const parent of cgroupParents) await rmdir(path.join(mount, parent)).catch(() => {});
      }
      await reg.stop();
      return forced;
    };

    const podConfig = (name: string, extra: PodInit = {}): PodInit => ({
      metadata: { name, namespace: 'berth-pods', uid: `uid-${name}-${n}`, attempt: 0 },
      logDirectory: path.join(logRoot, name),
      labels: { 'berth.test/pod': name },
      ...extra,
      linux: { cgroupParent: defaultCgroupParent, ...extra.linux },
    });

    const containerConfig = (name: string, script = 'while :; do sleep 1; done', extra: ContainerInit = {}): ContainerInit => ({
      metadata: { name, attempt: 0 },
      image: { image: BUSYBOX },
      command: ['/bin/sh', '-c', script],
      logPath: `${name}/0.log`,
      labels: { 'berth.test/container': name },
      ...extra,
    });

    const noteCgroupParent = (config: PodInit): void => {
      const parent = (config.linux as { cgroupParent?: string } | undefined)?.cgroupParent;
      if (parent) cgroupParents.add(parent);
    };

    const env: PodEnv = {
      registry: reg,
      daemon: d,
      get cri() {
        return d.cri;
      },
      net,
      logRoot,
      podIds,
      containerIds,
      cgroupParents,
      podConfig,
      containerConfig,
      async runPod(config, runtimeHandler = '') {
        noteCgroupParent(config);
        const r = await d.cri.runtime.runPodSandbox({ config, runtimeHandler });
        podIds.add(r.podSandboxId);
        return r.podSandboxId;
      },
      async createContainer(podId, config, podConfigArg) {
        const r = await d.cri.runtime.createContainer({ podSandboxId: podId, config, sandboxConfig: podConfigArg });
        containerIds.add(r.containerId);
        return r.containerId;
      },
      async startContainer(podId, config, podConfigArg) {
        const id = await env.createContainer(podId, config, podConfigArg);
        await d.cri.runtime.startContainer({ containerId: id });
        return id;
      },
      writeConflist,
      ipAllocations,
      hostState,
      async removeAllPods() {
        if (!d.running) await d.restart();
        for (const p of (await d.cri.runtime.listPodSandbox({})).items) await d.cri.runtime.removePodSandbox({ podSandboxId: p.id });
      },
      leftovers,
      cleanUp,
    };
    return env;
  } catch (e) {
    await daemon?.stop().catch(() => {});
    await registry?.stop().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading what the containers see and write

/** Runs `sh -c script` in a container; asserts exit 0 unless `allowFail`. */
export async function exec(env: PodEnv, containerId: string, script: string, timeoutSeconds = 10): Promise<RunResult> {
  const r = await env.cri.runtime.execSync({ containerId, cmd: ['/bin/sh', '-c', script], timeout: BigInt(timeoutSeconds) });
  const out = { code: r.exitCode, stdout: Buffer.from(r.stdout).toString('utf8'), stderr: Buffer.from(r.stderr).toString('utf8') };
  return out;
}

export async function execOk(env: PodEnv, containerId: string, script: string, timeoutSeconds = 10): Promise<string> {
  const r = await exec(env, containerId, script, timeoutSeconds);
  assert.equal(r.code, 0, `exec ${JSON.stringify(script)} in ${containerId.slice(0, 12)} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: string;
  text: string;
}

/** Parses a CRI log file ("<RFC3339Nano> <stream> <P|F> <text>" per line). */
export function parseCriLog(text: string): CriLogLine[] {
  const out: CriLogLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(line);
    assert.ok(m, `not a CRI log line: ${JSON.stringify(line)}`);
    out.push({ time: m[1]!, stream: m[2] as 'stdout' | 'stderr', tag: m[3]!, text: m[4]! });
  }
  return out;
}

export async function readLog(file: string): Promise<CriLogLine[]> {
  return parseCriLog(await readFile(file, 'utf8').catch(() => ''));
}

/** Waits until the container's log has a full line with `text`. */
export async function waitForLog(file: string, text: string, timeoutMs = 10_000): Promise<CriLogLine[]> {
  return waitFor(
    `"${text}" in ${file}`,
    async () => {
      const lines = await readLog(file);
      return lines.some((l) => l.text.includes(text)) ? lines : undefined;
    },
    timeoutMs,
  );
}

/** A CNI plugin that fails ADD (and succeeds DEL/CHECK/VERSION), as a tiny shell script. */
export async function writeFailingPlugin(dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  const script = `#!/bin/sh
# A CNI plugin that refuses every ADD.
cat >/dev/null
case "$CNI_COMMAND" in
  ADD) printf '{"cniVersion":"1.0.0","code":100,"msg":"the test plugin refuses ADD"}\\n'; exit 1 ;;
  VERSION) printf '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}\\n' ;;
esac
exit 0
`;
  await writeFile(file, script);
  await chmod(file, 0o755);
  return file;
}

/** The symlink target of /proc/<pid>/ns/<kind>, e.g. `pid:[4026531836]`. */
export async function namespaceOf(pid: number, kind: string): Promise<string> {
  return readlink(`/proc/${pid}/ns/${kind}`);
}
