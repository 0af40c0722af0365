// After a daemon start: what the records say against what runs. Running containers keep running
// (their monitors outlived the old daemon); what exited meanwhile gets its exit code, 255 when
// unknown; a pod whose namespaces are gone (a reboot) is not ready. A container snapshot without
// a record (the daemon died inside CreateContainer) is reclaimed with its rootfs mount and bundle.
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExitStatus, RecoveredContainer } from '../runtime/oci/oci-runtime.ts';
import { unmount } from '../snapshot/mount.ts';
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
  const orphans = await reclaimOrphanSnapshots(deps);
  deps.logger.info({ running, exited, podsLost, orphans }, 'recovered pods and containers');
  return { running, exited, podsLost };
}

/** Removes container snapshots (label `berth/container`) that no container record holds. */
async function reclaimOrphanSnapshots(deps: PodDeps): Promise<number> {
  let reclaimed = 0;
  for (const info of await deps.images.snapshotter.list()) {
    const id = info.labels?.['berth/container'];
    if (id === undefined || info.kind !== 'active' || deps.store.getContainer(id) !== undefined) continue;
    const bundle = deps.paths.container(id);
    if (path.basename(bundle) !== id) continue; // a label naming something else than an ID
    deps.logger.warn({ container: id, snapshot: info.key }, 'reclaiming the snapshot of a container whose create never finished');
    const rootfs = path.join(bundle, 'rootfs');
    await unmount(rootfs).catch(() => unmount(rootfs, { detach: true }).catch(() => {}));
    await deps.images.snapshotter.remove(info.key);
    await rm(bundle, { recursive: true, force: true });
    reclaimed++;
  }
  return reclaimed;
}
