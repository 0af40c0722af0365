// What the image operations need; the daemon's entry point builds it.
import type { ContentStore } from '../content/content-store.ts';
import type { ImagePuller } from '../image/image-pull.ts';
import type { ImageStore } from '../image/image-store.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageConfig } from '../oci/image-spec.ts';
import type { Platform } from '../oci/platform.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import type { Leases } from '../util/semaphore.ts';

export interface ImageDeps {
  images: ImageStore;
  content: ContentStore;
  snapshotter: Snapshotter;
  puller: ImagePuller;
  /** Where the snapshots live: the image filesystem that ImageFsInfo reports. */
  snapshotRoot: string;
  /** Held by image removal and the collector, and by a pull while it records its image. */
  gcLock: KeyedLock;
  unpackLock: KeyedLock;
  leases: { blobs: Leases; snapshots: Leases };
  platform: Platform;
  readConfig(digest: Digest): Promise<ImageConfig>;
  logger: Logger;
}
