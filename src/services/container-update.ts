// UpdateContainerResources and ReopenContainerLog.
import type { LinuxContainerResources } from '../cri/gen/runtime/v1/api_pb.js';
import { failedPrecondition } from '../errors/errors.ts';
import type { LinuxResources } from '../runtime/oci/oci-runtime.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

export function ociResources(r: LinuxContainerResources): LinuxResources {
  const out: LinuxResources = {};
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota !== 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = Number(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (r.memoryLimitInBytes > 0n) {
    out.memory = { limit: Number(r.memoryLimitInBytes) };
    if (r.memorySwapLimitInBytes > 0n) out.memory.swap = Number(r.memorySwapLimitInBytes);
  }
  if (r.hugepageLimits.length > 0) out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: Number(h.limit) }));
  if (Object.keys(r.unified).length > 0) out.unified = r.unified;
  return out;
}

export async function updateContainerResources(
  deps: PodDeps,
  idOrPrefix: string,
  resources: LinuxContainerResources | undefined,
): Promise<void> {
  const c = deps.store.findContainer(idOrPrefix);
  if (!resources) return;
  await deps.locks.run(c.id, async () => {
    if (c.state === 'running') await runtimeFor(deps, c.runtimeHandler).update(c.id, ociResources(resources));
    else if (c.state !== 'created') throw failedPrecondition('container-not-running', `container ${c.id} is ${c.state}`);
    const config = { ...(c.config as object), linux: { ...((c.config as { linux?: object }).linux ?? {}), resources } };
    deps.store.updateContainer(c.id, { config });
  });
}

export async function reopenContainerLog(deps: PodDeps, idOrPrefix: string): Promise<void> {
  const c = deps.store.findContainer(idOrPrefix);
  if (c.state !== 'running') throw failedPrecondition('container-not-running', `container ${c.id} is not running`);
  await runtimeFor(deps, c.runtimeHandler).reopenLog(c.id);
}
