// StartContainer: conmon runs the runtime's create, then the runtime starts the process.
// A start that fails leaves the container exited with reason StartError, as containerd does.
import { failedPrecondition } from '../errors/errors.ts';
import type { ContainerRecord } from '../store/pod-store.ts';
import { publishContainerEvent } from './container-events.ts';
import { watchExit } from './container-exit.ts';
import { nowNanos } from './names.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

export async function startContainer(deps: PodDeps, idOrPrefix: string, signal?: AbortSignal): Promise<ContainerRecord> {
  const found = deps.store.findContainer(idOrPrefix);
  return deps.locks.run(found.id, async () => {
    const c = deps.store.getContainer(found.id) ?? found;
    if (c.state !== 'created') throw failedPrecondition('container-not-created', `container ${c.id} is ${c.state}, not created`);
    const pod = deps.store.getSandbox(c.sandboxId);
    if (!pod || pod.state !== 'ready') throw failedPrecondition('sandbox-not-ready', `pod sandbox ${c.sandboxId} is not ready`);
    const runtime = runtimeFor(deps, c.runtimeHandler);
    const { config } = c;
    try {
      const created = await runtime.create(
        {
          id: c.id,
          bundle: c.bundle,
          logPath: c.logPath || `${c.bundle}/container.log`,
          stdin: config.stdin,
          stdinOnce: config.stdinOnce,
          tty: config.tty,
          logMaxSize: deps.config.log_size_max,
        },
        signal,
      );
      await runtime.start(c.id, signal);
      const running = deps.store.updateContainer(c.id, {
        state: 'running',
        startedAt: nowNanos(),
        pid: created.pid,
        conmonPid: created.conmonPid,
      });
      publishContainerEvent(deps, c.id, c.sandboxId, 'started');
      watchExit(deps, running);
      return running;
    } catch (e) {
      await runtime.delete(c.id, { force: true }).catch(() => {});
      deps.store.updateContainer(c.id, {
        state: 'exited',
        exitCode: 128,
        reason: 'StartError',
        message: (e as Error).message,
        finishedAt: nowNanos(),
      });
      publishContainerEvent(deps, c.id, c.sandboxId, 'stopped');
      throw e;
    }
  });
}
