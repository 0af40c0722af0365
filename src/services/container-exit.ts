// Records a container's exit when its monitor reports it: code, time and the kubelet's reason.
import type { ExitStatus } from '../runtime/oci/oci-runtime.ts';
import type { ContainerRecord } from '../store/pod-store.ts';
import { publishContainerEvent } from './container-events.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

export function exitReason(exit: ExitStatus): string {
  if (exit.oomKilled) return 'OOMKilled';
  return exit.exitCode === 0 ? 'Completed' : 'Error';
}

export function recordExit(deps: PodDeps, id: string, exit: ExitStatus): ContainerRecord | undefined {
  const c = deps.store.getContainer(id);
  if (!c || c.state === 'exited') return c;
  // The exit time comes from the exit file (the kernel's coarse clock); the start time is taken
  // after the runtime's start returned. A container that exits at once could seem to have ended
  // before it started: never report that.
  const exitedAt = BigInt(exit.exitedAt) * 1_000_000n;
  const startedAt = BigInt(c.startedAt);
  const updated = deps.store.updateContainer(id, {
    state: 'exited',
    exitCode: exit.exitCode,
    finishedAt: (exitedAt > startedAt ? exitedAt : startedAt).toString(),
    reason: exitReason(exit),
    message: exit.reason === 'monitor-lost' ? 'the container monitor exited before the container' : c.message,
    pid: 0,
  });
  deps.logger.info({ container: id, exitCode: exit.exitCode, reason: updated.reason }, 'container exited');
  publishContainerEvent(deps, id, c.sandboxId, 'stopped');
  return updated;
}

/** Waits in the background for a running container's exit and records it. */
export function watchExit(deps: PodDeps, c: ContainerRecord): void {
  runtimeFor(deps, c.runtimeHandler)
    .waitExit(c.id)
    .then(
      (exit) => recordExit(deps, c.id, exit),
      (e) => deps.logger.warn({ container: c.id, err: e }, 'lost track of a container exit'),
    );
}
