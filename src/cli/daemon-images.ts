// Builds the image subsystem from the config, and cleans up what a killed daemon left half-done.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { FileContentStore } from '../content/file-content-store.ts';
import { collectGarbage } from '../image/image-gc.ts';
import { ImagePuller } from '../image/image-pull.ts';
import { ImageStore } from '../image/image-store.ts';
import { cleanupLayerApplyMounts } from '../image/layer-apply.ts';
import { isExtractKey } from '../image/layer-unpack.ts';
import { RegistryClient } from '../image/registry/client.ts';
import type { Digest } from '../oci/digest.ts';
import { type ImageConfig, parseImageConfig } from '../oci/image-spec.ts';
import { currentPlatform } from '../oci/platform.ts';
import type { ImageDeps } from '../services/image-deps.ts';
import { RUNTIME_NAME, RUNTIME_VERSION } from '../services/runtime-info.ts';
import { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.ts';
import { MetadataStore, RECORD_SHAPES } from '../store/metadata-store.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import { Leases } from '../util/semaphore.ts';

export interface ImageSubsystem {
  service: ImageDeps;
  meta: MetadataStore;
  close(): void;
}

export async function openImageSubsystem(config: Config, logger: Logger): Promise<ImageSubsystem> {
  const log = logger.child({ component: 'images' });
  const snapshotRoot = path.join(config.root, 'snapshots');
  const tempDir = path.join(config.root, 'tmp');
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  await mkdir(path.join(config.root), { recursive: true, mode: 0o700 });
  const meta = new MetadataStore(path.join(config.root, 'metadata.db'), { logger: log, shapes: RECORD_SHAPES });
  const content = new FileContentStore(path.join(config.root, 'content'));
  const snapshotter = await OverlaySnapshotter.open(snapshotRoot);
  const images = new ImageStore(meta);
  const registry = new RegistryClient({
    registries: config.registries,
    userAgent: `${RUNTIME_NAME}/${RUNTIME_VERSION}`,
    manifestDeadlineMs: config.image.manifest_timeout_ms,
  });
  const gcLock = new KeyedLock();
  const unpackLock = new KeyedLock();
  const leases = { blobs: new Leases(), snapshots: new Leases() };
  const platform = currentPlatform();
  const puller = new ImagePuller({
    registry,
    content,
    snapshotter,
    images,
    platform,
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    noProgressTimeoutMs: config.image.pull_progress_timeout_ms,
    gcLock,
    unpackLock,
    leases,
    tempDir,
    configDeadlineMs: config.image.manifest_timeout_ms,
    layerLimits: {
      maxLayerBytes: config.image.layer_max_size,
      maxEntries: config.image.layer_max_entries,
      maxPathDepth: config.image.layer_max_path_depth,
      maxEntryMetadataBytes: config.image.layer_max_entry_metadata,
      minFreeBytes: config.image.min_free_space,
    },
    logger: log,
  });

  const configs = new Map<string, ImageConfig>();
  const readConfig = async (digest: Digest): Promise<ImageConfig> => {
    let c = configs.get(digest);
    if (!c) {
      c = parseImageConfig(await content.readBlob(digest));
      configs.set(digest, c);
    }
    return c;
  };

  // A daemon killed mid-pull leaves temp files and half-unpacked snapshots: drop them, then
  // everything no image holds.
  await cleanupLayerApplyMounts(tempDir);
  await content.cleanupIngests();
  await snapshotter.cleanup((s) => s.kind === 'active' && isExtractKey(s.key));
  await collectGarbage({ images, content, snapshotter, leases, logger: log });

  return {
    service: { images, content, snapshotter, puller, snapshotRoot, gcLock, unpackLock, leases, platform, readConfig, logger: log },
    meta,
    close() {
      registry.close();
      meta.close();
    },
  };
}
