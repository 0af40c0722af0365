// berth daemon as a runtime under test for the node scenarios: a real daemon (test/support/daemon.ts)
// with registry mirrors for docker.io and registry.k8s.io, a sandbox image that sleeps, and a CNI
// network of its own (bridge + portmap on bridge `bnode…`, subnet 10.94.0.0/24, host-local IPAM with
// its data in the daemon's temp dir). stop() removes every sandbox through the CRI, stops the
// daemon, and removes by force what is left (runc containers, processes, mounts, the bridge,
// iptables rules of the subnet) — also after a failed test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bridgeConflist } from '../../support/cni-conflist.ts';
import { type DaemonRegistryConfig, startDaemon, type TestDaemon } from '../../support/daemon.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { removeLink, restoreIptables, snapshotIptables } from './host-network-cleanup.ts';
import { ipAllocationsOf, processesAndMountsOf, type RuntimeUnderTest, subnetPrefix } from './runtime-under-test.ts';

const run = promisify(execFile);
const RUNC = '/usr/sbin/runc';

async function tryRun(file: string, args: string[]): Promise<string> {
  try {
    return (await run(file, args, { timeout: 30_000 })).stdout;
  } catch {
    return '';
  }
}

async function cgroupMounts(): Promise<string[]> {
  const out = new Set<string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const type = line.slice(sep + 3).split(' ')[0];
    if (type === 'cgroup' || type === 'cgroup2') out.add(line.split(' ')[4]!);
  }
  return [...out];
}

async function removeAllSandboxes(daemon: TestDaemon): Promise<void> {
  if (!daemon.running) return;
  const options = { timeoutMs: 60_000 };
  try {
    for (const c of (await daemon.cri.runtime.listContainers({}, options)).containers) {
      await daemon.cri.runtime.stopContainer({ containerId: c.id, timeout: 0n }, options).catch(() => undefined);
      await daemon.cri.runtime.removeContainer({ containerId: c.id }, options).catch(() => undefined);
    }
    for (const s of (await daemon.cri.runtime.listPodSandbox({}, options)).items) {
      await daemon.cri.runtime.stopPodSandbox({ podSandboxId: s.id }, options).catch(() => undefined);
      await daemon.cri.runtime.removePodSandbox({ podSandboxId: s.id }, options).catch(() => undefined);
    }
  } catch {
    // the daemon does not answer: the forced cleanup below takes over
  }
}

/** Kills what the daemon's runc root still holds and every process that names the daemon's state dir (conmon); returns what it found. */
async function forceClean(daemon: TestDaemon): Promise<string[]> {
  const forced: string[] = [];
  const runtimes = path.join(daemon.state, 'runtimes');
  for (const runtime of await readdir(runtimes).catch(() => [] as string[])) {
    const root = path.join(runtimes, runtime);
    for (const id of (await tryRun(RUNC, ['--root', root, 'list', '-q'])).split('\n').filter(Boolean)) {
      forced.push(`runc container ${id}`);
      await tryRun(RUNC, ['--root', root, 'kill', '--all', id, 'KILL']);
      await tryRun(RUNC, ['--root', root, 'delete', '--force', id]);
    }
  }
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(daemon.state)) continue;
    forced.push(`process ${entry} (${cmdline.replaceAll('\0', ' ').slice(0, 80)})`);
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone
    }
  }
  return forced;
}

export interface BerthRuntimeOptions {
  /** More `[registries."HOST"]` tables (a registry with auth reached directly, …). */
  registries?: Record<string, DaemonRegistryConfig>;
  /** The pods' subnet; two test files running at once must not share one (two bridges would route it). */
  subnet?: string;
}

export async function startBerthRuntime(registry: TestRegistry, options: BerthRuntimeOptions = {}): Promise<RuntimeUnderTest> {
  const subnet = options.subnet ?? '10.94.0.0/24';
  const bridge = `bnode${randomBytes(3).toString('hex')}`;
  const network = `berth-node-test-${bridge}`;
  const iptablesBefore = await snapshotIptables();
  const mirrors = { mirrors: [registry.url] };
  const daemon = await startDaemon({
    registries: { 'docker.io': mirrors, 'registry.k8s.io': mirrors, ...options.registries },
    extraConfig: 'sandbox_image = "registry.k8s.io/pause:3.9"',
    logLevel: 'info',
  });
  const ipamDir = path.join(daemon.dir, 'ipam');
  await writeFile(path.join(daemon.dir, 'cni', '10-berth-node-test.conflist'), bridgeConflist(network, bridge, subnet, ipamDir));
  const daemonDir = daemon.dir;
  // The pods' cgroup parent (the provider's cgroupParent): what is below it is this runtime's only.
  const cgroupParent = `/berth-node-test-${process.pid}`;

  /** What stop() had to clean by force: the daemon should have left none of it. */
  const forced: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // For a look at what the daemon did: BERTH_TEST_DAEMON_LOG=FILE keeps its log.
      if (process.env.BERTH_TEST_DAEMON_LOG) await writeFile(process.env.BERTH_TEST_DAEMON_LOG, daemon.logs());
      await removeAllSandboxes(daemon);
      await daemon.terminate();
      forced.push(...(await forceClean(daemon)));
      // The namespace root (a bind mount of itself, made at the first pod, as `ip netns` makes
      // /run/netns) is the daemon's and stays when it stops, as pods may outlive it.
      const nsRoot = path.join(daemon.state, 'ns');
      forced.push(...(await daemon.stop()).filter((m) => m !== nsRoot).map((m) => `mount ${m}`));
      await removeLink(bridge);
      await restoreIptables(iptablesBefore, subnet, bridge);
      for (const mount of await cgroupMounts()) {
        const parent = path.join(mount, cgroupParent);
        for (const entry of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
          if (!entry.isDirectory()) continue;
          forced.push(`cgroup ${path.join(parent, entry.name)}`);
          await rmdir(path.join(parent, entry.name)).catch(() => undefined);
        }
        await rmdir(parent).catch(() => undefined);
      }
    })();
    return stopping;
  };

  return {
    endpoint: daemon.endpoint,
    subnet,
    runtimeName: 'berth',
    providerConfig: { cgroupParent },
    logs: () => daemon.logs(),
    async leftovers({ sandboxes, containers }) {
      const ids = [...sandboxes, ...containers];
      const found = [...(await processesAndMountsOf(ids)), ...(await ipAllocationsOf(path.join(ipamDir, network), sandboxes))];
      for (const id of ids) {
        for (const sub of ['pods', 'containers', 'ns']) {
          const file = path.join(daemon.state, sub, id);
          if (existsSync(file)) found.push(`state ${sub}/${id}`);
        }
        for (const mount of await cgroupMounts()) {
          const dir = path.join(mount, cgroupParent, id);
          if (existsSync(dir)) found.push(`cgroup ${dir}`);
        }
      }
      for (const file of await readdir(path.join(daemon.root, 'cni')).catch(() => [] as string[])) {
        if (sandboxes.some((id) => file.includes(id))) found.push(`CNI cache ${file}`);
      }
      return found;
    },
    stop,
    async restart() {
      await daemon.restart();
    },
    async hostLeftovers() {
      const found = forced.map((f) => `cleaned by force: ${f}`);
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      if (mounts.includes(daemonDir)) found.push(`mounts under ${daemonDir}`);
      const links = await tryRun('ip', ['-o', 'link', 'show']);
      if (links.includes(`${bridge}:`)) found.push(`the bridge ${bridge}`);
      const prefix = subnetPrefix(subnet);
      for (const line of (await tryRun('iptables-save', ['-t', 'nat'])).split('\n'))
        if (line.includes(prefix)) found.push(`NAT rule ${line}`);
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes(daemonDir)) found.push(`process ${entry} (${cmdline.replaceAll('\0', ' ').slice(0, 80)})`);
      }
      return found;
    },
  };
}
