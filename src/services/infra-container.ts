// A pod's infra (pause) container: only for pods that share one PID namespace, which cannot be
// kept without a process. It joins the pod's pinned network, IPC and UTS namespaces.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSandboxSpec } from '../runtime/spec/sandbox-spec.ts';
import type { SandboxSpecInput } from '../runtime/spec/spec-input.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';
import type { CleanupStack } from '../util/cleanup-stack.ts';
import { pullImage } from './image-pull.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

export interface InfraContainer {
  id: string;
  pid: number;
}

export type InfraSpecInput = Omit<SandboxSpecInput, 'image' | 'rootfs' | 'imageName' | 'host'>;

export async function startInfraContainer(
  deps: PodDeps,
  handler: string,
  input: InfraSpecInput,
  undo: CleanupStack,
  signal?: AbortSignal,
): Promise<InfraContainer> {
  const id = input.id;
  const ref = deps.config.sandbox_image;
  const image = deps.images.images.resolve(ref) ?? (await pullImage(deps.images, ref, { signal }));
  const imageConfig = await deps.images.readConfig(image.config.digest);
  const dir = deps.paths.container(id);
  const rootfs = path.join(dir, 'rootfs');
  await mkdir(rootfs, { recursive: true, mode: 0o700 });
  undo.push('infra bundle', () => rm(dir, { recursive: true, force: true }));
  const key = `sandbox-${id}`;
  const mounts = await deps.images.snapshotter.prepare(key, image.chainIds.at(-1), { 'berth/sandbox': id });
  undo.push('infra snapshot', () => deps.images.snapshotter.remove(key));
  await mountAll(mounts, rootfs, signal);
  undo.push('infra rootfs', () => unmount(rootfs, { detach: true }));
  const spec = await buildSandboxSpec({ ...input, image: imageConfig.config ?? {}, imageName: ref, rootfs, host: deps.host });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
  const runtime = runtimeFor(deps, handler);
  const created = await runtime.create({ id, bundle: dir, logPath: path.join(dir, 'infra.log') }, signal);
  undo.push('infra container', () => runtime.delete(id, { force: true }));
  await runtime.start(id, signal);
  return { id, pid: created.pid };
}

/** Idempotent: kills and deletes the infra container, unmounts and removes its rootfs. */
export async function removeInfraContainer(deps: PodDeps, handler: string, id: string): Promise<void> {
  const runtime = runtimeFor(deps, handler);
  await runtime.delete(id, { force: true });
  const dir = deps.paths.container(id);
  await unmount(path.join(dir, 'rootfs'), { detach: true });
  await deps.images.snapshotter.remove(`sandbox-${id}`);
  await rm(dir, { recursive: true, force: true });
}
