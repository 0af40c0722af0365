// `berth image import`: images from an OCI-layout or docker-save archive on the node.
import { importArchive } from '../image/image-import.ts';
import type { ImageRecord } from '../image/image-store.ts';
import type { ImageDeps } from './image-deps.ts';

export function importImages(deps: ImageDeps, file: string, baseName: string | undefined, signal?: AbortSignal): Promise<ImageRecord[]> {
  return importArchive(
    {
      content: deps.content,
      snapshotter: deps.snapshotter,
      images: deps.images,
      platform: deps.platform,
      unpackLock: deps.unpackLock,
      gcLock: deps.gcLock,
      leases: deps.leases,
      logger: deps.logger,
    },
    file,
    { baseName, signal },
  );
}
