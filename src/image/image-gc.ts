// Removes blobs and layer snapshots that no image holds any more, and that no pull in flight uses.
import type { ContentStore } from '../content/content-store.ts';
import { isBerthError } from '../errors/errors.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { Logger } from '../util/logger.ts';
import type { Leases } from '../util/semaphore.ts';
import type { ImageStore } from './image-store.ts';

export interface GcDeps {
  images: ImageStore;
  content: ContentStore;
  snapshotter: Snapshotter;
  /** What pulls and imports in flight hold. */
  leases: { blobs: Leases; snapshots: Leases };
  logger: Logger;
}

export async function collectGarbage(deps: GcDeps): Promise<{ blobs: number; snapshots: number }> {
  const liveBlobs = new Set<string>(deps.leases.blobs.keys());
  const liveSnapshots = new Set<string>(deps.leases.snapshots.keys());
  for (const image of deps.images.list()) {
    for (const d of image.contentRefs) liveBlobs.add(d);
    for (const c of image.chainIds) liveSnapshots.add(c);
  }
  let blobs = 0;
  for (const blob of await deps.content.list()) {
    if (liveBlobs.has(blob.digest)) continue;
    await deps.content.delete(blob.digest);
    blobs++;
  }
  // Committed layers only: active snapshots belong to containers or running pulls. Children
  // go before their parents, so repeat while something was removed.
  let snapshots = 0;
  for (let progress = true; progress; ) {
    progress = false;
    for (const s of await deps.snapshotter.list()) {
      if (s.kind !== 'committed' || liveSnapshots.has(s.key)) continue;
      try {
        await deps.snapshotter.remove(s.key);
        snapshots++;
        progress = true;
      } catch (e) {
        if (!isBerthError(e, 'failed-precondition')) throw e;
      }
    }
  }
  if (blobs + snapshots > 0) deps.logger.info({ blobs, snapshots }, 'garbage collected');
  return { blobs, snapshots };
}
