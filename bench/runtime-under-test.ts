// What the workloads see of a runtime (its CRI client, its processes, its network) and the
// cleanup that every runtime shares: remove every sandbox through the CRI, stop the daemon, then
// undo on the host whatever is left (runc containers, monitors, network namespaces, mounts, the
// bridge, iptables rules, cgroups, the directory).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CriClient } from '../src/cri/cri-client.ts';
import type { DaemonProcess } from './daemon-process.ts';
import {
  cgroupDirs,
  deleteRuncContainers,
  killProcessesMentioning,
  linkExists,
  mountsUnder,
  netnsInSubnets,
  type ProcInfo,
  processesMentioning,
  type RuleOwner,
  removeCgroupTree,
  removeLink,
  removeNetnsInSubnets,
  removeRules,
  rulesOf,
  runtimeProcesses,
  unmountUnder,
} from './host.ts';

/** Every runtime the benchmark knows, in the order its table shows them (containerd, the reference, first). */
export const RUNTIME_NAMES = ['containerd', 'berth', 'dockershim', 'cri-dockerd'] as const;

export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export function isRuntimeName(name: string): name is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(name);
}

/** The registry host that image references name; the runtimes reach it through a mirror (cri-dockerd cannot: see cri-dockerd.ts). */
export const REGISTRY_HOST = 'registry.bench.test';

/** Everything of one runtime that the benchmark made and must undo. */
export interface RuntimeFootprint {
  name: RuntimeName;
  /** The runtime's directory (root, state, socket, configs); its path marks the runtime's processes. */
  dir: string;
  subnet: string;
  bridge: string;
  /** The CNI network name. */
  network: string;
  /** Absolute cgroup path under which every pod's cgroup parent lies. */
  cgroupTop: string;
}

export interface RuntimeUnderTest {
  readonly name: RuntimeName;
  readonly footprint: RuntimeFootprint;
  readonly endpoint: string;
  readonly cri: CriClient;
  readonly daemonPid: number;
  /**
   * The processes counted as the daemon (idle RSS, daemon CPU): `daemonPid`, and for a shim on a
   * Docker Engine also dockerd and its containerd, which the node pays for as much.
   */
  daemonPids(): Promise<number[]>;
  /**
   * Set when the runtime cannot pull the bench's images from the loopback registry (no mirror for
   * REGISTRY_HOST): the workload and sandbox images were loaded into its store beforehand, and this
   * says why. Its pull figure is then whatever its PullImage does (it fails offline: null, noted).
   */
  readonly preloadedImages?: string;
  /** The processes the runtime runs besides its workloads: the daemon, its shims or monitors. */
  overheadProcesses(): Promise<ProcInfo[]>;
  /** The cgroup parent of a pod, as the kubelet (cgroupfs driver) would give it. */
  cgroupParent(podUid: string): string;
  logs(): string;
  /** Removes the runtime's pods, stops it and undoes everything on the host. Idempotent. */
  stop(): Promise<CleanupReport>;
}

export interface CleanupReport {
  /** What the runtime had not removed itself and the fallbacks had to undo. */
  undone: string[];
  /** What is still there after the fallbacks (there should be nothing). */
  leftovers: string[];
}

export function ruleOwner(footprint: RuntimeFootprint): RuleOwner {
  return { subnets: [footprint.subnet], bridges: [footprint.bridge], networks: [footprint.network] };
}

/** The bridge CNI conflist every runtime gets (each with its own name, bridge, subnet and IPAM dir). */
export function cniConflist(footprint: RuntimeFootprint): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: footprint.network,
      plugins: [
        {
          type: 'bridge',
          bridge: footprint.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: footprint.subnet }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(footprint.dir, 'cni', 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export async function writeCniConfig(footprint: RuntimeFootprint): Promise<string> {
  const confDir = path.join(footprint.dir, 'cni', 'net.d');
  await mkdir(confDir, { recursive: true });
  await writeFile(path.join(confDir, '10-bench.conflist'), cniConflist(footprint));
  return confDir;
}

/** Stops and removes every sandbox the runtime lists (its containers go with them). */
export async function removeAllSandboxes(cri: CriClient): Promise<number> {
  const options = { timeoutMs: 60_000 };
  let removed = 0;
  try {
    const { items } = await cri.runtime.listPodSandbox({}, { timeoutMs: 30_000 });
    for (const sandbox of items) {
      await cri.runtime.stopPodSandbox({ podSandboxId: sandbox.id }, options).catch(() => undefined);
      await cri.runtime.removePodSandbox({ podSandboxId: sandbox.id }, options).catch(() => undefined);
      removed++;
    }
  } catch {
    // not implemented, or the daemon is gone: the host fallbacks clean up
  }
  return removed;
}

/** A path below the runtime's directory as `<containerd dir>/state/…`, so that reports name no host paths. */
function inDir(footprint: RuntimeFootprint, p: string): string {
  const rel = path.relative(footprint.dir, p);
  return rel.startsWith('..') ? p : `<${footprint.name} dir>/${rel}`;
}

/** What of the footprint is still on the host: processes, mounts, netns, bridge, rules, cgroups. */
export async function footprintLeftovers(footprint: RuntimeFootprint): Promise<string[]> {
  const left: string[] = [];
  for (const p of await processesMentioning(footprint.dir)) left.push(`process ${p.pid} ${p.comm}`);
  for (const m of await mountsUnder(footprint.dir)) left.push(`mount ${inDir(footprint, m)}`);
  for (const n of await netnsInSubnets([footprint.subnet])) left.push(`netns ${n}`);
  if (await linkExists(footprint.bridge)) left.push(`link ${footprint.bridge}`);
  for (const r of await rulesOf(ruleOwner(footprint))) left.push(`iptables ${r}`);
  for (const c of await cgroupDirs(footprint.cgroupTop)) left.push(`cgroup ${c}`);
  return left;
}

/** Undoes the footprint on the host after the daemon stopped; removes the directory. */
export async function cleanFootprint(footprint: RuntimeFootprint): Promise<CleanupReport> {
  const undone: string[] = [];
  const runc = await deleteRuncContainers(footprint.dir);
  if (runc > 0) undone.push(`${runc} runc containers`);
  const killed = await killProcessesMentioning(footprint.dir);
  if (killed > 0) undone.push(`${killed} processes`);
  for (const n of await removeNetnsInSubnets([footprint.subnet])) undone.push(`netns ${n}`);
  for (const m of await unmountUnder(footprint.dir)) undone.push(`mount ${inDir(footprint, m)}`);
  if (await removeLink(footprint.bridge)) undone.push(`link ${footprint.bridge}`);
  const rules = await removeRules(ruleOwner(footprint));
  if (rules > 0) undone.push(`${rules} iptables rules and chains`);
  const cgroups = await removeCgroupTree(footprint.cgroupTop);
  if (cgroups.length > 0) undone.push(`cgroup ${footprint.cgroupTop} in ${cgroups.length} hierarchies`);
  const leftovers = await footprintLeftovers(footprint);
  if (leftovers.length === 0) await rm(footprint.dir, { recursive: true, force: true, maxRetries: 3 });
  else leftovers.push(`the ${footprint.name} dir (kept: something is still there)`);
  return { undone, leftovers };
}

export interface RuntimeOptions {
  /** After the daemon stopped, before the host fallbacks (a Docker Engine under the shim stops here). */
  afterStop?: () => Promise<void>;
  /** More processes counted as the daemon (see RuntimeUnderTest.daemonPids). */
  moreDaemonPids?: () => Promise<number[]>;
  preloadedImages?: string;
}

/** The runtime object every starter returns. */
export function runtimeUnderTest(footprint: RuntimeFootprint, daemon: DaemonProcess, options: RuntimeOptions = {}): RuntimeUnderTest {
  let stopping: Promise<CleanupReport> | undefined;
  return {
    name: footprint.name,
    footprint,
    endpoint: daemon.endpoint,
    cri: daemon.cri,
    daemonPid: daemon.pid,
    daemonPids: async () => [daemon.pid, ...((await options.moreDaemonPids?.()) ?? [])],
    preloadedImages: options.preloadedImages,
    overheadProcesses: () => runtimeProcesses(daemon.pid, footprint.dir),
    cgroupParent: (podUid) => `${footprint.cgroupTop}/pod${podUid}`,
    logs: () => daemon.logs(),
    stop() {
      stopping ??= (async () => {
        const undone: string[] = [];
        if (daemon.running()) {
          const left = await removeAllSandboxes(daemon.cri);
          if (left > 0) undone.push(`${left} sandboxes removed through the CRI`);
        }
        await daemon.stop();
        await options.afterStop?.();
        const report = await cleanFootprint(footprint);
        return { undone: [...undone, ...report.undone], leftovers: report.leftovers };
      })();
      return stopping;
    },
  };
}
