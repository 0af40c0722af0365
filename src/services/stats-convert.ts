// berth's stats ⇄ CRI ContainerStats / PodSandboxStats.
import type { ContainerStatsResult, PodStatsResult } from './stats.ts';

const ns = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
const u64 = (v: number | undefined) => (v === undefined ? undefined : { value: BigInt(Math.max(0, Math.round(v))) });

function cpuAndMemory(r: { cgroup?: ContainerStatsResult['cgroup'] }) {
  const g = r.cgroup;
  if (!g) return {};
  const timestamp = ns(g.timestamp);
  return {
    cpu: { timestamp, usageCoreNanoSeconds: u64(g.cpu.usageNs) },
    memory: {
      timestamp,
      workingSetBytes: u64(g.memory.workingSetBytes),
      availableBytes: u64(g.memory.availableBytes),
      usageBytes: u64(g.memory.usageBytes),
      rssBytes: u64(g.memory.rssBytes),
      pageFaults: u64(g.memory.pageFaults),
      majorPageFaults: u64(g.memory.majorPageFaults),
    },
  };
}

export function criContainerStats(r: ContainerStatsResult, mountpoint: string) {
  const c = r.container;
  return {
    attributes: { id: c.id, metadata: c.metadata, labels: c.labels, annotations: c.annotations },
    ...cpuAndMemory(r),
    writableLayer: r.writable
      ? { timestamp: ns(r.writable.timestamp), fsId: { mountpoint }, usedBytes: u64(r.writable.bytes), inodesUsed: u64(r.writable.inodes) }
      : undefined,
  };
}

export function criPodSandboxStats(r: PodStatsResult, mountpoint: string) {
  const s = r.sandbox;
  return {
    attributes: { id: s.id, metadata: s.metadata, labels: s.labels, annotations: s.annotations },
    linux: {
      ...cpuAndMemory(r),
      process: r.cgroup?.pids ? { timestamp: ns(r.cgroup.timestamp), processCount: u64(r.cgroup.pids.current) } : undefined,
      containers: r.containers.map((c) => criContainerStats(c, mountpoint)),
    },
  };
}
