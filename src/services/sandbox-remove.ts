// RemovePodSandbox: stops the pod if needed, removes its containers and everything it owns.
// Removing a pod that is gone already is not an error.
import { isBerthError } from '../errors/errors.ts';
import { publishContainerEvent } from './container-events.ts';
import { removeContainer } from './container-remove.ts';
import type { PodDeps } from './pod-deps.ts';
import { removePodFiles } from './pod-files.ts';
import { stopPodSandbox } from './sandbox-stop.ts';

export async function removePodSandbox(deps: PodDeps, idOrPrefix: string): Promise<void> {
  let id: string;
  try {
    id = deps.store.findSandbox(idOrPrefix).id;
  } catch (e) {
    if (isBerthError(e, 'not-found')) return;
    throw e;
  }
  await stopPodSandbox(deps, id);
  for (const c of deps.store.containersOf(id)) await removeContainer(deps, c.id);
  await deps.locks.run(id, async () => {
    const s = deps.store.getSandbox(id);
    if (!s) return;
    await removePodFiles(s.files.dir);
    deps.store.deleteSandbox(id);
    deps.logger.info({ pod: id }, 'pod sandbox removed');
    publishContainerEvent(deps, id, id, 'deleted');
  });
}
