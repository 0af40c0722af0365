// The pull pipeline: resolve ▶ fetch (verified) ▶ content store ▶ unpack ▶ snapshot ▶ image record.
// Concurrent pulls of one image share one run; blobs and layers in use are leased against GC.
import { createHash } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import { invalidArgument } from '../errors/errors.ts';
import { chainIds } from '../oci/chain-id.ts';
import type { Digest } from '../oci/digest.ts';
import {
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  isIndexMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
} from '../oci/image-spec.ts';
import { type Platform, selectManifest } from '../oci/platform.ts';
import { type ImageReference, parseReference } from '../oci/reference.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { type KeyedLock, SharedRun } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import { type Leases, Semaphore } from '../util/semaphore.ts';
import type { ImageRecord, ImageStore } from './image-store.ts';
import type { LayerLimits } from './layer-limits.ts';
import { unpackLayers } from './layer-unpack.ts';
import { noSpaceAsResourceExhausted } from './no-space.ts';
import type { AuthConfig } from './registry/auth.ts';
import type { RegistryClient } from './registry/client.ts';
import type { RegistryEndpoint } from './registry/hosts.ts';

export type PullEvent =
  | { kind: 'resolved'; reference: string; digest: Digest; layers: { digest: Digest; size: number }[] }
  | {
      kind: 'layer';
      digest: Digest;
      phase: 'waiting' | 'downloading' | 'downloaded' | 'exists' | 'unpacking' | 'done';
      written: number;
      total: number;
    };

export interface PullOptions {
  auth?: AuthConfig;
  signal?: AbortSignal;
  onEvent?: (event: PullEvent) => void;
}

export interface ImagePullerDeps {
  registry: RegistryClient;
  content: ContentStore;
  snapshotter: Snapshotter;
  images: ImageStore;
  platform: Platform;
  maxConcurrentDownloads: number;
  noProgressTimeoutMs: number;
  /** Taken while the new record is written, so that GC never sees leased content without its image. */
  gcLock: KeyedLock;
  /** Shared with imports: one unpack of a chainID at a time. */
  unpackLock: KeyedLock;
  /** Shared with imports and GC: what operations in flight hold. */
  leases: { blobs: Leases; snapshots: Leases };
  /** Temporary mounts while unpacking. */
  tempDir: string;
  /** The image config must arrive whole within this long (ms); default none. */
  configDeadlineMs?: number;
  /** Bounds on each layer unpacked; default DEFAULT_LAYER_LIMITS. */
  layerLimits?: LayerLimits;
  logger: Logger;
}

export class ImagePuller {
  #deps: ImagePullerDeps;
  #pulls = new SharedRun<ImageRecord>();
  #downloads = new SharedRun<void>();
  #downloadSlots: Semaphore;

  constructor(deps: ImagePullerDeps) {
    this.#deps = deps;
    this.#downloadSlots = new Semaphore(deps.maxConcurrentDownloads);
  }

  /** Pulls `reference` (familiar or canonical); concurrent pulls of it with the same credentials share one run. */
  pull(reference: string, options: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const key = `${ref.string()}#${createHash('sha256')
      .update(JSON.stringify(options.auth ?? {}))
      .digest('hex')}`;
    return this.#pulls.run(key, options.signal, (signal) => this.#pull(ref, { ...options, signal }));
  }

  async #pull(ref: ImageReference, options: PullOptions): Promise<ImageRecord> {
    const { registry, content, logger } = this.#deps;
    const started = performance.now();
    const request = { auth: options.auth, signal: options.signal, noProgressTimeoutMs: this.#deps.noProgressTimeoutMs };
    const releases: (() => void)[] = [];
    const leaseBlobs = (digests: Digest[]) => releases.push(this.#deps.leases.blobs.hold(digests));
    try {
      const resolved = await registry.resolve(ref, request);
      const top = resolved.descriptor;
      leaseBlobs([top.digest]);
      await content.ingest({ digest: top.digest, size: resolved.bytes.length }, once(resolved.bytes), { signal: options.signal });
      const contentRefs: Digest[] = [top.digest];

      let manifestDesc: Descriptor = top;
      let manifestBytes = resolved.bytes;
      if (isIndexMediaType(top.mediaType)) {
        manifestDesc = selectManifest(parseIndex(resolved.bytes, top.mediaType), this.#deps.platform);
        leaseBlobs([manifestDesc.digest]);
        manifestBytes = (await registry.fetchManifest(resolved.endpoint, ref.path, manifestDesc, request)).bytes;
        await content.ingest({ digest: manifestDesc.digest, size: manifestBytes.length }, once(manifestBytes), { signal: options.signal });
        contentRefs.push(manifestDesc.digest);
      }
      const manifest = parseManifest(manifestBytes, manifestDesc.mediaType);
      const config = await this.#fetchConfig(resolved.endpoint, ref, manifest, request, leaseBlobs);
      contentRefs.push(manifest.config.digest);
      const diffIds = config.rootfs.diff_ids as Digest[];
      if (diffIds.length !== manifest.layers.length) {
        throw invalidArgument(
          'bad-manifest',
          `${ref}: the manifest has ${manifest.layers.length} layers but the config names ${diffIds.length}`,
        );
      }
      const layers = manifest.layers.map((l, i) => ({
        digest: l.digest as Digest,
        size: l.size,
        mediaType: l.mediaType,
        diffId: diffIds[i]!,
      }));
      const chain = chainIds(diffIds);
      leaseBlobs(layers.map((l) => l.digest));
      releases.push(this.#deps.leases.snapshots.hold(chain));
      options.onEvent?.({
        kind: 'resolved',
        reference: ref.string(),
        digest: top.digest,
        layers: layers.map(({ digest, size }) => ({ digest, size })),
      });

      const downloads = layers.map((layer) => this.#download(resolved.endpoint, ref, layer, request, options));
      // Unpacking waits for each download in turn and meets a failed one there; until then, the
      // rejection is handled.
      for (const d of downloads) d.catch(() => {});
      await unpackLayers({
        snapshotter: this.#deps.snapshotter,
        content,
        layers,
        chainIds: chain,
        lock: this.#deps.unpackLock,
        tempDir: this.#deps.tempDir,
        limits: this.#deps.layerLimits,
        ready: (i) => downloads[i]!,
        onEvent: (i, phase) =>
          options.onEvent?.({ kind: 'layer', digest: layers[i]!.digest, phase, written: layers[i]!.size, total: layers[i]!.size }),
        signal: options.signal,
      });
      await Promise.all(downloads);
      contentRefs.push(...layers.map((l) => l.digest));

      const record: ImageRecord = {
        id: manifest.config.digest as Digest,
        // With name:tag@digest the registry never confirmed the tag: keep only the digest (as containerd).
        repoTags: ref.tag !== undefined && ref.digest === undefined ? [ref.repository().withTag(ref.tag).string()] : [],
        repoDigests: [ref.withDigest(top.digest).string()],
        manifest: { digest: manifestDesc.digest as Digest, mediaType: manifestDesc.mediaType, size: manifestBytes.length },
        config: { digest: manifest.config.digest as Digest, size: manifest.config.size },
        layers,
        chainIds: chain,
        contentRefs,
        size: manifest.config.size + layers.reduce((n, l) => n + l.size, 0),
        pinned: false,
        pulledAt: Date.now(),
      };
      const saved = await this.#deps.gcLock.run('gc', async () => this.#deps.images.put(record));
      logger.info(
        { image: ref.string(), id: saved.id, layers: layers.length, ms: Math.round(performance.now() - started) },
        'image pulled',
      );
      return saved;
    } catch (e) {
      throw noSpaceAsResourceExhausted(e);
    } finally {
      for (const release of releases) release();
    }
  }

  async #fetchConfig(
    endpoint: RegistryEndpoint,
    ref: ImageReference,
    manifest: ImageManifest,
    request: { auth?: AuthConfig; signal?: AbortSignal; noProgressTimeoutMs: number },
    leaseBlobs: (d: Digest[]) => void,
  ): Promise<ImageConfig> {
    const { content, registry } = this.#deps;
    const desc = { digest: manifest.config.digest as Digest, size: manifest.config.size };
    if (desc.size > 16 * 1024 * 1024) throw invalidArgument('bad-manifest', `${ref}: image config of ${desc.size} bytes is too large`);
    leaseBlobs([desc.digest]);
    if (!(await content.info(desc.digest))) {
      const body = await registry.fetchBlob(endpoint, ref.path, desc, { ...request, deadlineMs: this.#deps.configDeadlineMs });
      await content.ingest(desc, body, { signal: request.signal });
    }
    return parseImageConfig(await content.readBlob(desc.digest, request.signal));
  }

  #download(
    endpoint: RegistryEndpoint,
    ref: ImageReference,
    layer: { digest: Digest; size: number },
    request: { auth?: AuthConfig; signal?: AbortSignal; noProgressTimeoutMs: number },
    options: PullOptions,
  ): Promise<void> {
    const { content, registry } = this.#deps;
    const event = (phase: 'waiting' | 'downloading' | 'downloaded' | 'exists', written: number) =>
      options.onEvent?.({ kind: 'layer', digest: layer.digest, phase, written, total: layer.size });
    return this.#downloads.run(layer.digest, request.signal, async (signal) => {
      if (await content.info(layer.digest)) return event('exists', layer.size);
      event('waiting', 0);
      await this.#downloadSlots.run(async () => {
        if (await content.info(layer.digest)) return;
        const body = await registry.fetchBlob(endpoint, ref.path, layer, { ...request, signal });
        event('downloading', 0);
        await content.ingest(layer, body, { signal, onProgress: (n) => event('downloading', n) });
      });
      event('downloaded', layer.size);
    });
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
