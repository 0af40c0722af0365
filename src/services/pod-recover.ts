// After a daemon start: what the records say against what runs. Running containers keep running
// (their monitors outlived the old daemon); what exited meanwhile gets its exit code, 255 when
// unknown; a pod whose namespaces are gone (a reboot) is not ready.
import { access } from 'node:fs/promises';
import type { ExitStatus, RecoveredContainer } from '../runtime/oci/oci-runtime.ts';
import { publishContainerEvent } from './container-events.ts';
import { recordExit, watchExit } from './container-exit.ts';
import type { PodDeps } from './pod-deps.ts';

const LOST: () => ExitStatus = () => ({ exitCode: 255, exitedAt: Date.now(), oomKilled: false, reason: 'monitor-lost' });

export async function recoverPods(deps: PodDeps): Promise<{ running: number; exited: number; podsLost: number }> {
  const known = new Map<string, RecoveredContainer>();
  for (const runtime of new Set(deps.runtimes.values())) {
    const r = await runtime.recover();
    for (const c of r.containers) known.set(c.id, c);
  }
  let running = 0;
  let exited = 0;
  for (const c of deps.store.containers()) {
    if (c.state !== 'running' && c.state !== 'unknown') continue;
    const seen = known.get(c.id);
    if (seen && seen.status !== 'stopped') {
      running++;
      watchExit(deps, c);
    } else {
      exited++;
      recordExit(deps, c.id, seen?.exit ?? LOST());
    }
  }
  let podsLost = 0;
  for (const s of deps.store.sandboxes()) {
    if (s.state !== 'ready') continue;
    const paths = [s.namespaces.net, s.namespaces.ipc, s.namespaces.uts].filter((p): p is string => p !== undefined);
    const present = await Promise.all(
      paths.map((p) =>
        access(p).then(
          () => true,
          () => false,
        ),
      ),
    );
    const infraAlive = !s.infraContainerId || (known.get(s.infraContainerId)?.status ?? 'stopped') !== 'stopped';
    if (present.every(Boolean) && infraAlive) continue;
    deps.store.updateSandbox(s.id, { state: 'notready' });
    publishContainerEvent(deps, s.id, s.id, 'stopped');
    podsLost++;
  }
  deps.logger.info({ running, exited, podsLost }, 'recovered pods and containers');
  return { running, exited, podsLost };
}
