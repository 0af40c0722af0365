// Unpacks an image's layers bottom to top into committed snapshots named by chainID. A layer
// that some image already unpacked is shared, never unpacked twice.

import { randomBytes } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import type { Digest } from '../oci/digest.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { KeyedLock } from '../util/keyed-lock.ts';
import { applyLayer } from './layer-apply.ts';
import type { LayerLimits } from './layer-limits.ts';

export interface UnpackRequest {
  snapshotter: Snapshotter;
  content: ContentStore;
  layers: { digest: Digest; mediaType: string; diffId: Digest }[];
  chainIds: Digest[];
  /** Serialises unpacks of one chainID across concurrent pulls. */
  lock: KeyedLock;
  /** Resolves when layer i's blob is in the content store. */
  ready: (i: number) => Promise<void>;
  onEvent?: (i: number, phase: 'unpacking' | 'done') => void;
  /** Where temporary overlay mounts of the parent chain go (under the daemon's root). */
  tempDir?: string;
  /** Default DEFAULT_LAYER_LIMITS. */
  limits?: LayerLimits;
  signal?: AbortSignal;
}

export async function unpackLayers(req: UnpackRequest): Promise<void> {
  const { snapshotter, layers, chainIds } = req;
  for (let i = 0; i < layers.length; i++) {
    const chainId = chainIds[i]!;
    const parent = i === 0 ? undefined : chainIds[i - 1];
    await req.lock.run(chainId, async () => {
      if ((await snapshotter.stat(chainId))?.kind === 'committed') return;
      await req.ready(i);
      req.signal?.throwIfAborted();
      req.onEvent?.(i, 'unpacking');
      const layer = layers[i]!;
      const key = extractKey(chainId);
      // applyLayer refuses a layer whose diffID differs from the config's (and removes its snapshot).
      await applyLayer({
        snapshotter,
        key,
        parent,
        blob: req.content.openRead(layer.digest),
        mediaType: layer.mediaType,
        expectedDiffId: layer.diffId,
        tempDir: req.tempDir,
        limits: req.limits,
        signal: req.signal,
      });
      try {
        await snapshotter.commit(chainId, key, { 'berth/layer': layer.digest });
      } catch (e) {
        await snapshotter.remove(key).catch(() => {});
        throw e;
      }
    });
    req.onEvent?.(i, 'done');
  }
}

/** A name for an unpack in progress; the daemon removes stale ones at start. */
export function extractKey(chainId: string): string {
  return `extract-${randomBytes(4).toString('hex')}-${chainId}`;
}

export function isExtractKey(key: string): boolean {
  return key.startsWith('extract-');
}
