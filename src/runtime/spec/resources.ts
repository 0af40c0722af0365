// CRI resources into the spec's cgroup settings, the OOM score, and the cgroup path.

import { basename, join } from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';
import type { LinuxResources } from '../../oci/runtime-spec.ts';
import type { CgroupDriver, ResourcesInput } from './spec-input.ts';

export interface ResourceOptions {
  /** The memory controller accounts swap; without it no swap limit is written (runc would fail). */
  swapAvailable?: boolean;
  /** The hugetlb controller exists; without it hugepage limits are dropped (containerd's tolerate_missing_hugetlb_controller). */
  hugetlbAvailable?: boolean;
  pidsLimit?: number;
}

const set = (n: number | undefined): n is number => n !== undefined && n !== 0;

const checkNonNegative = (n: number | undefined, what: string): void => {
  if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
    throw invalidArgument('invalid-resources', `${what} must not be negative (got ${n})`, { fields: { [what]: n } });
  }
};

/**
 * The cgroup settings of CRI resources, as containerd writes them: zero means unset; with a memory
 * limit and no swap limit, swap = limit (no swapping) when the node accounts swap; hugepage limits
 * only where the hugetlb controller exists; `unified` copied as is. Device rules are added by the
 * caller. Returns undefined fields for what is unset.
 */
export function linuxResources(r: ResourcesInput | undefined, options: ResourceOptions = {}): LinuxResources {
  const out: LinuxResources = {};
  if (options.pidsLimit !== undefined && options.pidsLimit > 0) out.pids = { limit: options.pidsLimit };
  if (r === undefined) return out;
  checkNonNegative(r.cpuPeriod, 'cpu_period');
  checkNonNegative(r.cpuShares, 'cpu_shares');
  checkNonNegative(r.memoryLimitInBytes, 'memory_limit_in_bytes');

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (set(r.cpuShares)) cpu.shares = r.cpuShares;
  if (set(r.cpuQuota)) cpu.quota = r.cpuQuota;
  if (set(r.cpuPeriod)) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const memory: NonNullable<LinuxResources['memory']> = {};
  if (set(r.memoryLimitInBytes)) {
    memory.limit = r.memoryLimitInBytes;
    if (!set(r.memorySwapLimitInBytes) && options.swapAvailable === true) memory.swap = r.memoryLimitInBytes;
  }
  if (set(r.memorySwapLimitInBytes) && options.swapAvailable === true) memory.swap = r.memorySwapLimitInBytes;
  if (Object.keys(memory).length > 0) out.memory = memory;

  if (options.hugetlbAvailable === true && (r.hugepageLimits ?? []).length > 0) {
    out.hugepageLimits = r.hugepageLimits!.map((h) => ({ pageSize: h.pageSize, limit: h.limit }));
  }
  if (r.unified !== undefined && Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

/** The kernel's range of oom_score_adj. */
export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

/**
 * The oom_score_adj to write: the request, within the kernel's range, and never below `minimum`
 * (the daemon's own value): lowering it needs CAP_SYS_RESOURCE, which a daemon may lack, and a
 * pod must not fail for it (containerd's restrict_oom_score_adj).
 */
export function clampOomScoreAdj(requested: number, minimum?: number): number {
  let v = Math.trunc(requested);
  v = Math.max(OOM_SCORE_ADJ_MIN, Math.min(OOM_SCORE_ADJ_MAX, v));
  if (minimum !== undefined && v < minimum) v = minimum;
  return v;
}

/** The systemd-driver prefix of container scopes ("<slice>:berth:<id>" → berth-<id>.scope). */
export const SYSTEMD_SCOPE_PREFIX = 'berth';

/**
 * linux.cgroupsPath of a container or pod. cgroupfs: "<parent>/<id>" (undefined without a parent:
 * the runtime then picks its default). systemd: "<slice>:berth:<id>", where the slice is the last
 * element of the parent (the kubelet passes "kubepods-burstable-pod<uid>.slice"), "system.slice"
 * without one. The driver is also inferred from a parent ending in ".slice", as containerd does.
 */
export function cgroupsPath(parent: string | undefined, id: string, driver: CgroupDriver = 'cgroupfs'): string | undefined {
  const p = parent ?? '';
  const base = p === '' ? '' : basename(p);
  if (driver === 'systemd' || base.endsWith('.slice')) {
    const slice = base === '' ? 'system.slice' : base;
    if (!slice.endsWith('.slice')) {
      throw invalidArgument(
        'invalid-cgroup-parent',
        `cgroup parent ${JSON.stringify(p)} is not a systemd slice (the systemd driver needs "<name>.slice")`,
        {
          fields: { cgroupParent: p },
        },
      );
    }
    return `${slice}:${SYSTEMD_SCOPE_PREFIX}:${id}`;
  }
  if (p === '') return undefined;
  return join(p, id);
}
