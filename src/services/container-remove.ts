// RemoveContainer: a running container is killed first; then the runtime's state, the rootfs
// mount, the writable snapshot and the bundle go. Removing what is gone is not an error.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { isBerthError } from '../errors/errors.ts';
import { unmount } from '../snapshot/mount.ts';
import { publishContainerEvent } from './container-events.ts';
import { stopContainer } from './container-stop.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

export async function removeContainer(deps: PodDeps, idOrPrefix: string): Promise<void> {
  let id: string;
  try {
    id = deps.store.findContainer(idOrPrefix).id;
  } catch (e) {
    if (isBerthError(e, 'not-found')) return;
    throw e;
  }
  const c = deps.store.getContainer(id)!;
  if (c.state === 'running' || c.state === 'unknown') await stopContainer(deps, id, 0);
  await deps.locks.run(id, async () => {
    const c = deps.store.getContainer(id);
    if (!c) return;
    await runtimeFor(deps, c.runtimeHandler).delete(id, { force: true });
    await unmount(path.join(c.bundle, 'rootfs'), { detach: true });
    await deps.images.snapshotter.remove(c.snapshotKey).catch((e) => {
      if (!isBerthError(e, 'not-found')) throw e;
    });
    await rm(c.bundle, { recursive: true, force: true });
    deps.store.deleteContainer(id);
    deps.logger.info({ container: id }, 'container removed');
    publishContainerEvent(deps, id, c.sandboxId, 'deleted');
  });
}
