// StopContainer: the stop signal, the grace period, then SIGKILL. Stopping what is stopped is fine.
import { isBerthError } from '../errors/errors.ts';
import type { ContainerRecord } from '../store/pod-store.ts';
import { publishContainerEvent } from './container-events.ts';
import { recordExit } from './container-exit.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

/** The image's StopSignal, else SIGTERM. */
export function stopSignalOf(imageStopSignal: string | undefined): NodeJS.Signals | number {
  const s = (imageStopSignal ?? '').toUpperCase();
  if (/^\d+$/.test(s)) return Number(s);
  if (s !== '') return (s.startsWith('SIG') ? s : `SIG${s}`) as NodeJS.Signals;
  return 'SIGTERM';
}

export async function stopContainer(deps: PodDeps, idOrPrefix: string, timeoutSeconds: number): Promise<ContainerRecord> {
  const found = deps.store.findContainer(idOrPrefix);
  return deps.locks.run(found.id, async () => {
    const c = deps.store.getContainer(found.id) ?? found;
    if (c.state === 'created') {
      const stopped = deps.store.updateContainer(c.id, { state: 'exited', exitCode: 0, reason: 'Completed', finishedAt: c.createdAt });
      publishContainerEvent(deps, c.id, c.sandboxId, 'stopped');
      return stopped;
    }
    if (c.state === 'exited') return c;
    const image = deps.images.images.get(c.image.id);
    const stopSignal = image ? (await deps.images.readConfig(image.config.digest)).config?.StopSignal : undefined;
    const runtime = runtimeFor(deps, c.runtimeHandler);
    try {
      const exit = await runtime.stop(c.id, Math.max(0, timeoutSeconds), stopSignalOf(stopSignal));
      return recordExit(deps, c.id, exit) ?? c;
    } catch (e) {
      if (!isBerthError(e, 'not-found')) throw e;
      // The runtime no longer knows it (lost after a reboot): it is not running.
      return recordExit(deps, c.id, { exitCode: 255, exitedAt: Date.now(), oomKilled: false, reason: 'monitor-lost' }) ?? c;
    }
  });
}
