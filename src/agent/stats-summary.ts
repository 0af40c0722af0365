// The kubelet's Summary API (/stats/summary, stats/v1alpha1): the node's own figures, measured
// here from /proc and the root filesystem, and the pods' figures from the provider. Field names
// and units are the API's (bytes, nanoseconds, nanocores; times in RFC 3339).
import { readFile, statfs } from 'node:fs/promises';
import { k8sTime } from './k8s-time.ts';

export interface CpuStats {
  time: string;
  /** Average use over the last sampling interval, in billionths of a core. */
  usageNanoCores?: number;
  /** Cumulative CPU time since the container (or node) started. */
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  /** What the kubelet evicts on: usage minus inactive file pages. */
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface FsStats {
  time: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  /** The container's writable layer. */
  rootfs?: FsStats;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
}

export interface NodeStats {
  nodeName: string;
  startTime: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  fs?: FsStats;
}

export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

interface CpuSample {
  at: number;
  /** Busy time of all CPUs, in nanoseconds. */
  busyNs: number;
}

/** USER_HZ: /proc/stat counts in hundredths of a second on Linux. */
const TICK_NS = 10_000_000;

async function cpuSample(): Promise<{ sample: CpuSample; bootTime: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  const fields = /^cpu\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: idle and iowait are not use.
  const busy = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  const bootTime = Number(/^btime\s+(\d+)$/m.exec(text)?.[1] ?? 0) * 1000;
  return { sample: { at: performance.now(), busyNs: busy * TICK_NS }, bootTime };
}

async function memoryStats(time: string): Promise<MemoryStats> {
  const text = await readFile('/proc/meminfo', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) * 1024;
  const usageBytes = kb('MemTotal') - kb('MemFree');
  const vmstat = await readFile('/proc/vmstat', 'utf8').catch(() => '');
  const count = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(vmstat)?.[1] ?? 0);
  return {
    time,
    availableBytes: kb('MemAvailable'),
    usageBytes,
    workingSetBytes: Math.max(0, usageBytes - kb('Inactive(file)')),
    rssBytes: kb('AnonPages'),
    pageFaults: count('pgfault'),
    majorPageFaults: count('pgmajfault'),
  };
}

async function rootFsStats(time: string, path: string): Promise<FsStats | undefined> {
  const fs = await statfs(path).catch(() => undefined);
  if (fs === undefined) return undefined;
  return {
    time,
    availableBytes: fs.bavail * fs.bsize,
    capacityBytes: fs.blocks * fs.bsize,
    usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
    inodesFree: fs.ffree,
    inodes: fs.files,
    inodesUsed: fs.files - fs.ffree,
  };
}

/** The node's figures; CPU use is averaged since the previous call (a first call samples 100 ms). */
export class NodeStatsReader {
  #last: CpuSample | undefined;

  async read(nodeName: string, fsPath = '/'): Promise<NodeStats> {
    let { sample, bootTime } = await cpuSample();
    let previous = this.#last;
    if (previous === undefined || sample.at - previous.at < 10) {
      previous = sample;
      await new Promise((resolve) => setTimeout(resolve, 100));
      ({ sample } = await cpuSample());
    }
    this.#last = sample;
    const time = k8sTime();
    const elapsedNs = (sample.at - previous.at) * 1e6;
    return {
      nodeName,
      startTime: k8sTime(new Date(bootTime)),
      cpu: {
        time,
        usageCoreNanoSeconds: sample.busyNs,
        usageNanoCores: elapsedNs > 0 ? Math.round(((sample.busyNs - previous.busyNs) / elapsedNs) * 1e9) : undefined,
      },
      memory: await memoryStats(time),
      fs: await rootFsStats(time, fsPath),
    };
  }
}
