// berth's stats ⇄ CRI ContainerStats / PodSandboxStats.
import { criCpuAndMemory, criNanos as ns, criUInt64 as u64 } from '../cri-api/cri-stats.ts';
import type { ContainerStatsResult, PodStatsResult } from './stats.ts';

export function criContainerStats(r: ContainerStatsResult, mountpoint: string) {
  const c = r.container;
  return {
    attributes: { id: c.id, metadata: c.metadata, labels: c.labels, annotations: c.annotations },
    ...criCpuAndMemory(r.cgroup),
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
      ...criCpuAndMemory(r.cgroup),
      process: r.cgroup?.pids ? { timestamp: ns(r.cgroup.timestamp), processCount: u64(r.cgroup.pids.current) } : undefined,
      containers: r.containers.map((c) => criContainerStats(c, mountpoint)),
    },
  };
}
