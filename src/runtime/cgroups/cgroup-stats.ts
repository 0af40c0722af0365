// CPU and memory of one cgroup, from the v1 controllers (cpuacct, memory, pids) or the v2 tree,
// computed the way the kubelet (cAdvisor) does: working set = usage − inactive file pages.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { notFound, toBerthError } from '../../errors/errors.ts';
import { type CgroupLayout, checkCgroupPath, controllerDir } from './cgroup-layout.ts';

export interface CgroupStats {
  /** When the numbers were read, ms since the epoch. */
  timestamp: number;
  cpu: {
    /** Cumulative CPU time of every task in the cgroup, nanoseconds. */
    usageNs: number;
    userNs?: number;
    systemNs?: number;
  };
  memory: {
    /** Usage including page cache (v1 memory.usage_in_bytes, v2 memory.current). */
    usageBytes: number;
    /** usageBytes minus inactive file pages, never below 0: what the kubelet evicts on. */
    workingSetBytes: number;
    /** Anonymous memory and swap cache (v1 total_rss, v2 anon). */
    rssBytes: number;
    /** The limit; undefined when unlimited. */
    limitBytes?: number;
    /** limitBytes − workingSetBytes, when there is a limit. */
    availableBytes?: number;
    pageFaults: number;
    majorPageFaults: number;
  };
  pids?: { current: number; limit?: number };
}

/** v1 reports "no limit" as the largest page-aligned counter value; anything this large is unlimited. */
const UNLIMITED_THRESHOLD = 2 ** 62;

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw e;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const text = await readText(file);
  if (text === undefined) return undefined;
  const value = text.trim();
  if (value === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat) → a map. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) {
      const n = Number(value);
      if (Number.isFinite(n)) out.set(key, n);
    }
  }
  return out;
}

async function readKeyValues(file: string): Promise<Map<string, number>> {
  const text = await readText(file);
  return text === undefined ? new Map() : parseKeyValues(text);
}

function limitOf(raw: number | undefined): number | undefined {
  if (raw === undefined || !Number.isFinite(raw) || raw >= UNLIMITED_THRESHOLD) return undefined;
  return raw;
}

function memoryFigures(usage: number, limit: number | undefined, inactiveFile: number) {
  const workingSetBytes = Math.max(0, usage - inactiveFile);
  return {
    workingSetBytes,
    limitBytes: limit,
    availableBytes: limit === undefined ? undefined : Math.max(0, limit - workingSetBytes),
  };
}

async function mustExist(dir: string | undefined, cgroupPath: string, controller: string): Promise<string> {
  if (dir === undefined) {
    throw notFound('cgroup-controller-missing', `no ${controller} cgroup controller is mounted`, { fields: { controller } });
  }
  const exists = await readText(path.join(dir, 'cgroup.procs'));
  if (exists === undefined)
    throw notFound('cgroup-not-found', `cgroup ${cgroupPath} does not exist (${dir})`, { fields: { cgroupPath, dir } });
  return dir;
}

async function readV1(layout: CgroupLayout, cgroupPath: string): Promise<CgroupStats> {
  const cpuDir = await mustExist(controllerDir(layout, 'cpuacct', cgroupPath), cgroupPath, 'cpuacct');
  const memDir = await mustExist(controllerDir(layout, 'memory', cgroupPath), cgroupPath, 'memory');
  const pidsDir = controllerDir(layout, 'pids', cgroupPath);
  const [usageNs, userNs, systemNs, usage, rawLimit, stat, pidsCurrent, pidsMax] = await Promise.all([
    readNumber(path.join(cpuDir, 'cpuacct.usage')),
    readNumber(path.join(cpuDir, 'cpuacct.usage_user')),
    readNumber(path.join(cpuDir, 'cpuacct.usage_sys')),
    readNumber(path.join(memDir, 'memory.usage_in_bytes')),
    readNumber(path.join(memDir, 'memory.limit_in_bytes')),
    readKeyValues(path.join(memDir, 'memory.stat')),
    pidsDir === undefined ? undefined : readNumber(path.join(pidsDir, 'pids.current')),
    pidsDir === undefined ? undefined : readNumber(path.join(pidsDir, 'pids.max')),
  ]);
  // The total_ figures include child cgroups (a pod's containers); plain ones only this cgroup's own tasks.
  const pick = (key: string): number => stat.get(`total_${key}`) ?? stat.get(key) ?? 0;
  const usageBytes = usage ?? 0;
  return {
    timestamp: Date.now(),
    cpu: { usageNs: usageNs ?? 0, userNs, systemNs },
    memory: {
      usageBytes,
      rssBytes: pick('rss'),
      pageFaults: pick('pgfault'),
      majorPageFaults: pick('pgmajfault'),
      ...memoryFigures(usageBytes, limitOf(rawLimit), pick('inactive_file')),
    },
    pids: pidsCurrent === undefined ? undefined : { current: pidsCurrent, limit: limitOf(pidsMax) },
  };
}

async function readV2(layout: CgroupLayout, cgroupPath: string): Promise<CgroupStats> {
  const dir = await mustExist(controllerDir(layout, 'memory', cgroupPath), cgroupPath, 'cgroup2');
  const [cpuStat, current, rawMax, stat, pidsCurrent, pidsMax] = await Promise.all([
    readKeyValues(path.join(dir, 'cpu.stat')),
    readNumber(path.join(dir, 'memory.current')),
    readNumber(path.join(dir, 'memory.max')),
    readKeyValues(path.join(dir, 'memory.stat')),
    readNumber(path.join(dir, 'pids.current')),
    readNumber(path.join(dir, 'pids.max')),
  ]);
  const micros = (key: string): number | undefined => {
    const v = cpuStat.get(key);
    return v === undefined ? undefined : v * 1000;
  };
  const usageBytes = current ?? 0;
  return {
    timestamp: Date.now(),
    cpu: { usageNs: micros('usage_usec') ?? 0, userNs: micros('user_usec'), systemNs: micros('system_usec') },
    memory: {
      usageBytes,
      rssBytes: stat.get('anon') ?? 0,
      pageFaults: stat.get('pgfault') ?? 0,
      majorPageFaults: stat.get('pgmajfault') ?? 0,
      ...memoryFigures(usageBytes, limitOf(rawMax), stat.get('inactive_file') ?? 0),
    },
    pids: pidsCurrent === undefined ? undefined : { current: pidsCurrent, limit: limitOf(pidsMax) },
  };
}

/**
 * Reads the stats of the cgroup at `cgroupPath` (runc's cgroupsPath with the cgroupfs driver, such
 * as `/berth/pod1/ctr1`). In hybrid mode the v1 controllers answer. Not-found when it does not exist.
 */
export async function readCgroupStats(layout: CgroupLayout, cgroupPath: string, signal?: AbortSignal): Promise<CgroupStats> {
  checkCgroupPath(cgroupPath);
  if (signal?.aborted) throw toBerthError(signal.reason);
  return layout.mode === 'v2' ? readV2(layout, cgroupPath) : readV1(layout, cgroupPath);
}

/**
 * How many times the OOM killer struck in the cgroup (v1 memory.oom_control `oom_kill`, v2
 * memory.events `oom_kill`); undefined when the cgroup or the counter does not exist.
 */
export async function readOomKillCount(layout: CgroupLayout, cgroupPath: string): Promise<number | undefined> {
  const dir = controllerDir(layout, 'memory', cgroupPath);
  if (dir === undefined) return undefined;
  const file = layout.mode === 'v2' ? 'memory.events' : 'memory.oom_control';
  const values = await readKeyValues(path.join(dir, file));
  return values.get('oom_kill');
}
