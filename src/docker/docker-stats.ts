// Container and pod stats of the dockershim read from the kernel, not from dockerd (whose stats API
// costs a CPU sample of a second per container and drives the engine's CPU up under
// ListContainerStats): the cgroup of the container's init process, its writable layer on disk,
// and the pod's network namespace as /proc/<pid>/net/dev shows it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isBerthError, toBerthError } from '../errors/errors.ts';
import type { CgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import { type CgroupStats, readCgroupStats } from '../runtime/cgroups/cgroup-stats.ts';
import { throwIfAborted } from '../util/abortable.ts';
import { directoryUsage as walkDirectory } from '../util/directory-usage.ts';
import { errnoCode } from '../util/errno.ts';

/** What the stats need of a container's inspect (dockerode's ContainerInspectInfo has it). */
export interface DockerContainerFacts {
  Id: string;
  State: { Pid: number; Running: boolean };
  HostConfig?: { CgroupParent?: string };
  GraphDriver?: { Name?: string; Data?: Record<string, string> | null };
}

/** Disk use of the writable layer: allocated bytes (blocks × 512, each inode once, like `du`) and inodes. */
export interface WritableLayerUsage {
  bytes: number;
  inodes: number;
  timestamp: number;
  /** The walk stopped at its bound: the figures are a lower bound. */
  truncated: boolean;
}

export interface DockerContainerStats {
  /** The cgroup the figures come from (`/kubepods/…/<id>`); undefined when the container does not run. */
  cgroupPath?: string;
  cgroup?: CgroupStats;
  writable?: WritableLayerUsage;
}

export interface DockerPodStats {
  /** The pod's cgroup (the parent of its sandbox's); undefined without a cgroup parent of its own. */
  cgroupPath?: string;
  /** CPU, memory and process count (cgroup.pids.current) of every container of the pod. */
  cgroup?: CgroupStats;
  network?: NetworkStats;
}

export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

export interface NetworkStats {
  timestamp: number;
  /** eth0, else the first interface that is not loopback (the CRI's default_interface). */
  defaultInterface?: InterfaceStats;
  /** Every interface but lo. */
  interfaces: InterfaceStats[];
  loopback?: InterfaceStats;
}

export interface DockerStatsOptions {
  signal?: AbortSignal;
  /** How many inodes the writable-layer walk visits at most. Default 200 000. */
  maxInodes?: number;
}

const DEFAULT_MAX_INODES = 200_000;

/**
 * The cgroup of process `pid` from /proc/<pid>/cgroup (as the reader's cgroup namespace sees it):
 * the memory controller's path on v1 and hybrid hosts, the unified path on v2.
 */
export async function processCgroupPath(layout: CgroupLayout, pid: number): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ESRCH') return undefined;
    throw toBerthError(e);
  }
  for (const line of text.split('\n')) {
    const [, controllers, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (p === undefined) continue;
    if (layout.mode === 'v2' ? controllers === '' : controllers!.split(',').includes('memory')) return p;
  }
  return undefined;
}

/** The running container's cgroup; undefined when it does not run (or its pid was already reused). */
async function containerCgroupPath(layout: CgroupLayout, info: DockerContainerFacts): Promise<string | undefined> {
  if (!info.State.Running || !(info.State.Pid > 0)) return undefined;
  const p = await processCgroupPath(layout, info.State.Pid);
  // cgroupfs puts it at <parent>/<id>, systemd at docker-<id>.scope: either names the container.
  return p !== undefined && p.includes(info.Id) ? p : undefined;
}

async function cgroupStatsAt(layout: CgroupLayout, cgroupPath: string | undefined, signal?: AbortSignal): Promise<CgroupStats | undefined> {
  if (cgroupPath === undefined || cgroupPath === '/') return undefined;
  try {
    return await readCgroupStats(layout, cgroupPath, signal);
  } catch (e) {
    throwIfAborted(signal);
    if (isBerthError(e) && e.kind === 'not-found') return undefined; // ended meanwhile
    throw toBerthError(e);
  }
}

/** Walks `dir` without following links, each inode once, visiting at most `maxInodes`. */
export async function directoryUsage(dir: string, maxInodes = DEFAULT_MAX_INODES, signal?: AbortSignal): Promise<WritableLayerUsage> {
  const u = await walkDirectory(dir, { maxInodes, signal });
  return { ...u, timestamp: Date.now() };
}

/**
 * CPU and memory of a container from its cgroup (none when it does not run) and the disk use of its
 * writable layer (overlay2's UpperDir; none for other storage drivers).
 */
export async function dockerContainerCgroupStats(
  layout: CgroupLayout,
  info: DockerContainerFacts,
  options: DockerStatsOptions = {},
): Promise<DockerContainerStats> {
  const cgroupPath = await containerCgroupPath(layout, info);
  const upper = info.GraphDriver?.Data?.UpperDir;
  const [cgroup, writable] = await Promise.all([
    cgroupStatsAt(layout, cgroupPath, options.signal),
    upper ? directoryUsage(upper, options.maxInodes, options.signal) : undefined,
  ]);
  return { cgroupPath: cgroup && cgroupPath, cgroup, writable };
}

/** Lines of /proc/net/dev: `  eth0: rxBytes rxPackets rxErrs … (8 rx fields) txBytes txPackets txErrs …`. */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({ name: line.slice(0, colon).trim(), rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! });
  }
  return out;
}

/** The network counters of the namespace process `pid` is in (the sandbox's init); undefined when it is gone. */
export async function dockerSandboxNetworkStats(pid: number): Promise<NetworkStats | undefined> {
  if (!(pid > 0)) return undefined;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/net/dev`, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ESRCH') return undefined;
    throw toBerthError(e);
  }
  const all = parseNetDev(text);
  const interfaces = all.filter((i) => i.name !== 'lo');
  return {
    timestamp: Date.now(),
    defaultInterface: interfaces.find((i) => i.name === 'eth0') ?? interfaces[0],
    interfaces,
    loopback: all.find((i) => i.name === 'lo'),
  };
}

/**
 * A pod's figures: CPU, memory and process count of its cgroup (the parent of the sandbox's, when
 * the sandbox was given a cgroup parent of its own as the kubelet gives one), and its network.
 */
export async function dockerPodStats(
  layout: CgroupLayout,
  sandbox: DockerContainerFacts,
  options: DockerStatsOptions = {},
): Promise<DockerPodStats> {
  const own = await containerCgroupPath(layout, sandbox);
  const podPath = own !== undefined && sandbox.HostConfig?.CgroupParent ? path.posix.dirname(own) : undefined;
  const [cgroup, network] = await Promise.all([
    cgroupStatsAt(layout, podPath, options.signal),
    sandbox.State.Running ? dockerSandboxNetworkStats(sandbox.State.Pid) : undefined,
  ]);
  return { cgroupPath: cgroup && podPath, cgroup, network };
}

/** The figures of several cgroups added up (undefined when none has any), for a pod without a cgroup of its own. */
export function sumCgroupStats(all: readonly Pick<DockerContainerStats, 'cgroup'>[]): CgroupStats | undefined {
  const present = all.map((s) => s.cgroup).filter((c): c is CgroupStats => c !== undefined);
  if (present.length === 0) return undefined;
  const add = (f: (c: CgroupStats) => number | undefined) => present.reduce((n, c) => n + (f(c) ?? 0), 0);
  return {
    timestamp: Math.max(...present.map((c) => c.timestamp)),
    cpu: { usageNs: add((c) => c.cpu.usageNs) },
    memory: {
      usageBytes: add((c) => c.memory.usageBytes),
      workingSetBytes: add((c) => c.memory.workingSetBytes),
      rssBytes: add((c) => c.memory.rssBytes),
      pageFaults: add((c) => c.memory.pageFaults),
      majorPageFaults: add((c) => c.memory.majorPageFaults),
    },
    pids: { current: add((c) => c.pids?.current) },
  };
}
