// What the spec builders need to know about the node, read once by the daemon's entry point:
// cgroup version and controllers, the daemon's own capabilities and OOM score, AppArmor.

import { access, readFile, statfs } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { boundingCapabilitiesFromStatus } from './capabilities.ts';
import type { HostOptions } from './spec-input.ts';

const CGROUP2_SUPER_MAGIC = 0x63677270;

const readText = async (path: string): Promise<string | undefined> => {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
};

const present = async (path: string): Promise<boolean> => {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
};

/** True when /sys/fs/cgroup is the cgroup v2 unified hierarchy (not hybrid, not v1). */
export async function isCgroupV2(root = '/sys/fs/cgroup'): Promise<boolean> {
  try {
    return (await statfs(root)).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** The daemon's own oom_score_adj (0 when unreadable). */
export async function currentOomScoreAdj(): Promise<number> {
  const n = Number.parseInt((await readText('/proc/self/oom_score_adj')) ?? '0', 10);
  return Number.isFinite(n) ? n : 0;
}

/** The daemon's bounding capabilities: what it can hand to a container. */
export async function currentCapabilities(): Promise<string[] | undefined> {
  const status = await readText('/proc/self/status');
  return status === undefined ? undefined : boundingCapabilitiesFromStatus(status);
}

/** AppArmor is enabled when the module says "Y". */
export async function apparmorEnabled(): Promise<boolean> {
  return ((await readText('/sys/module/apparmor/parameters/enabled')) ?? '').trim().startsWith('Y');
}

/** The swap accounting file of the memory controller exists (v1: memsw; v2: memory.swap.max of our cgroup). */
export async function swapAvailable(v2: boolean, root = '/sys/fs/cgroup'): Promise<boolean> {
  if (!v2) return present(join(root, 'memory', 'memory.memsw.limit_in_bytes'));
  const self = (await readText('/proc/self/cgroup')) ?? '';
  const line = self.split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) return false;
  return present(join(root, line.slice(3).trim(), 'memory.swap.max'));
}

/** The hugetlb controller is mounted (v1) or listed (v2). */
export async function hugetlbAvailable(v2: boolean, root = '/sys/fs/cgroup'): Promise<boolean> {
  if (!v2) return present(join(root, 'hugetlb'));
  return ((await readText(join(root, 'cgroup.controllers'))) ?? '').split(/\s+/).includes('hugetlb');
}

/** Host options detected on this node; the configuration adds the cgroup driver, pids limit and so on. */
export async function detectHostOptions(): Promise<HostOptions> {
  const v2 = await isCgroupV2();
  const [caps, oom, swap, hugetlb, apparmor] = await Promise.all([
    currentCapabilities(),
    currentOomScoreAdj(),
    swapAvailable(v2),
    hugetlbAvailable(v2),
    apparmorEnabled(),
  ]);
  const host: HostOptions = {
    cgroupV2: v2,
    minOomScoreAdj: oom,
    swapAvailable: swap,
    hugetlbAvailable: hugetlb,
    apparmorEnabled: apparmor,
    arch: process.arch,
    kernelRelease: release(),
  };
  if (caps !== undefined) host.allCapabilities = caps;
  return host;
}
