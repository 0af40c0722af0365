// A cgroup's CPU and memory figures (src/runtime/cgroups/cgroup-stats.ts) as the CRI's CpuUsage and
// MemoryUsage, for every backend's ContainerStats and PodSandboxStats.
import type { CgroupStats } from '../runtime/cgroups/cgroup-stats.ts';

/** Milliseconds since the epoch as the CRI's nanoseconds. */
export const criNanos = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
/** A UInt64Value, never negative; undefined stays unset. */
export const criUInt64 = (v: number | undefined) => (v === undefined ? undefined : { value: BigInt(Math.max(0, Math.round(v))) });

export function criCpuAndMemory(g: CgroupStats | undefined) {
  if (!g) return {};
  const timestamp = criNanos(g.timestamp);
  return {
    cpu: { timestamp, usageCoreNanoSeconds: criUInt64(g.cpu.usageNs) },
    memory: {
      timestamp,
      workingSetBytes: criUInt64(g.memory.workingSetBytes),
      availableBytes: criUInt64(g.memory.availableBytes),
      usageBytes: criUInt64(g.memory.usageBytes),
      rssBytes: criUInt64(g.memory.rssBytes),
      pageFaults: criUInt64(g.memory.pageFaults),
      majorPageFaults: criUInt64(g.memory.majorPageFaults),
    },
  };
}

/** A filesystem's use (ImageFsInfo) as the CRI's FilesystemUsage. */
export function criFilesystemUsage(u: { timestampNs: bigint; mountpoint: string; bytes: number; inodes: number }) {
  return {
    timestamp: u.timestampNs,
    fsId: { mountpoint: u.mountpoint },
    usedBytes: { value: BigInt(u.bytes) },
    inodesUsed: { value: BigInt(u.inodes) },
  };
}
