// UpdateContainerResources and ReopenContainerLog.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { clone, create } from '@bufbuild/protobuf';
import { ContainerConfigSchema, LinuxContainerConfigSchema, type LinuxContainerResources } from '../cri-api/gen/runtime/v1/api_pb.js';
import { failedPrecondition } from '../errors/errors.ts';
import type { RuntimeSpec } from '../oci/runtime-spec.ts';
import type { LinuxResources } from '../runtime/oci/oci-runtime.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

/**
 * CRI resources as `runc update` takes them. As at create (runtime/spec/resources.ts): with a memory
 * limit and no swap limit, swap = limit where the node accounts swap. Without that, raising the
 * memory limit above the memory+swap limit set at create fails in the kernel (EINVAL on cgroup v1).
 */
export function ociResources(r: LinuxContainerResources, options: { swapAvailable?: boolean } = {}): LinuxResources {
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
    if (options.swapAvailable === true) {
      out.memory.swap = Number(r.memorySwapLimitInBytes > 0n ? r.memorySwapLimitInBytes : r.memoryLimitInBytes);
    }
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
  const found = deps.store.findContainer(idOrPrefix);
  if (!resources) return;
  await deps.locks.run(found.id, async () => {
    // Read again under the lock: a start or stop may have finished while this call waited for it.
    const c = deps.store.getContainer(found.id) ?? found;
    const update = ociResources(resources, { swapAvailable: deps.host.swapAvailable });
    if (c.state === 'running') await runtimeFor(deps, c.runtimeHandler).update(c.id, update);
    else if (c.state === 'created') await updateBundleResources(c.bundle, update);
    else throw failedPrecondition('container-not-running', `container ${c.id} is ${c.state}`);
    const config = clone(ContainerConfigSchema, c.config);
    config.linux ??= create(LinuxContainerConfigSchema);
    config.linux.resources = resources;
    deps.store.updateContainer(c.id, { config });
  });
}

/** A created container gets its resources from the bundle at start: they are updated there (devices and pids stay). */
async function updateBundleResources(bundle: string, update: LinuxResources): Promise<void> {
  const file = path.join(bundle, 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as RuntimeSpec;
  spec.linux ??= {};
  spec.linux.resources = { ...spec.linux.resources, ...update };
  await writeFileAtomic(file, JSON.stringify(spec));
}

export async function reopenContainerLog(deps: PodDeps, idOrPrefix: string): Promise<void> {
  const c = deps.store.findContainer(idOrPrefix);
  if (c.state !== 'running') throw failedPrecondition('container-not-running', `container ${c.id} is not running`);
  await runtimeFor(deps, c.runtimeHandler).reopenLog(c.id);
}
