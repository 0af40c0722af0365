// ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: from the cgroups
// (CPU, memory) and the writable snapshot (disk). A container that does not run has no cgroup:
// it is listed with its attributes and no figures, as containerd does.
import type { CgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import { type CgroupStats, readCgroupStats } from '../runtime/cgroups/cgroup-stats.ts';
import type { ContainerRecord, SandboxRecord } from '../store/pod-store.ts';
import type { PodDeps } from './pod-deps.ts';

export interface ContainerStatsResult {
  container: ContainerRecord;
  cgroup?: CgroupStats;
  writable?: { bytes: number; inodes: number; timestamp: number };
}

export interface PodStatsResult {
  sandbox: SandboxRecord;
  cgroup?: CgroupStats;
  containers: ContainerStatsResult[];
}

async function cgroupStats(layout: CgroupLayout, path: string): Promise<CgroupStats | undefined> {
  if (!path) return undefined;
  try {
    return await readCgroupStats(layout, path);
  } catch {
    return undefined; // gone meanwhile, or never made
  }
}

export async function containerStats(deps: PodDeps, layout: CgroupLayout, c: ContainerRecord): Promise<ContainerStatsResult> {
  const cgroup = c.state === 'running' ? await cgroupStats(layout, c.cgroupsPath) : undefined;
  let writable: ContainerStatsResult['writable'];
  try {
    const u = await deps.images.snapshotter.usage(c.snapshotKey);
    writable = { bytes: u.bytes, inodes: u.inodes, timestamp: Date.now() };
  } catch {}
  return { container: c, cgroup, writable };
}

export async function podStats(deps: PodDeps, layout: CgroupLayout, s: SandboxRecord): Promise<PodStatsResult> {
  const containers = await Promise.all(deps.store.containersOf(s.id).map((c) => containerStats(deps, layout, c)));
  const cgroup = s.state === 'ready' ? await cgroupStats(layout, s.cgroupParent) : undefined;
  return { sandbox: s, cgroup, containers };
}
