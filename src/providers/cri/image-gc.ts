// Image garbage collection, as the kubelet's image GC manager does it: every period, read how full
// the runtime's image filesystem is; at or above the high threshold, remove unused images — used by
// no container (running or not), not pinned (the sandbox image), first seen at least the minimum
// age ago — least recently used first, until usage is down to the low threshold.
import { statfs } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageClient, RuntimeClient } from '../../cri/cri-client.ts';
import type { Image } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { failedPrecondition, internal, invalidArgument } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';

export interface ImageGcPolicy {
  /** Usage (percent of the image filesystem) at or above which images are removed (kubelet imageGCHighThresholdPercent, 85). */
  highThresholdPercent: number;
  /** Usage to free down to (imageGCLowThresholdPercent, 80). */
  lowThresholdPercent: number;
  /** An image the node first saw less than this ago stays (imageMinimumGCAge, 2 min). */
  minAgeMs: number;
  /** How often to look (the kubelet: 5 min). */
  periodMs: number;
}

export const DEFAULT_IMAGE_GC_POLICY: ImageGcPolicy = {
  highThresholdPercent: 85,
  lowThresholdPercent: 80,
  minAgeMs: 2 * 60_000,
  periodMs: 5 * 60_000,
};

/** Node events, as the kubelet records them about its Node. */
export type NodeEventSink = (type: 'Normal' | 'Warning', reason: string, message: string) => void;

export interface ImageGcOptions {
  runtime: RuntimeClient;
  image: ImageClient;
  policy: ImageGcPolicy;
  logger: Logger;
  callTimeoutMs: number;
  nodeEvent?: NodeEventSink;
  now?: () => number;
}

export interface ImageFsUsage {
  mountpoint: string;
  capacityBytes: number;
  availableBytes: number;
}

export interface ImageGcResult {
  usagePercent: number;
  /** Bytes it set out to free (0 below the high threshold) and bytes freed. */
  toFreeBytes: number;
  freedBytes: number;
  /** IDs of the removed images. */
  removed: string[];
}

export interface ImageRecord {
  /** When the node first saw the image. */
  firstDetected: number;
  /** When the node last saw a container use it (0: never). */
  lastUsed: number;
  size: number;
  pinned: boolean;
  inUse: boolean;
}

/**
 * The images that may go, in the order they go: used by no container, not pinned, and known to the
 * node for at least `minAgeMs` (the kubelet counts the minimum age from first sight); least
 * recently used first, then the earliest seen.
 */
export function removableImages(records: Map<string, ImageRecord>, now: number, minAgeMs: number): [string, ImageRecord][] {
  return [...records]
    .filter(([, r]) => !r.inUse && !r.pinned && now - r.firstDetected >= minAgeMs)
    .sort(([, a], [, b]) => a.lastUsed - b.lastUsed || a.firstDetected - b.firstDetected);
}

/** `registry.k8s.io/pause:3.9` and `docker.io/library/busybox:1` as runtimes list them, also without the default registry. */
function names(image: Image): string[] {
  const out = [image.id, ...image.repoTags, ...image.repoDigests];
  for (const n of [...out]) {
    if (n.startsWith('docker.io/library/')) out.push(n.slice('docker.io/library/'.length));
    if (n.startsWith('docker.io/')) out.push(n.slice('docker.io/'.length));
  }
  return out;
}

/** The runtime's sandbox (pause) image from its verbose Status: containerd's `sandboxImage`, berth's `sandbox_image`. */
export function sandboxImageOf(info: Record<string, string>): string | undefined {
  try {
    const config = JSON.parse(info.config ?? '{}') as { sandboxImage?: unknown; sandbox_image?: unknown };
    const image = config.sandboxImage ?? config.sandbox_image;
    return typeof image === 'string' && image !== '' ? image : undefined;
  } catch {
    return undefined;
  }
}

export class ImageGarbageCollector {
  readonly #options: ImageGcOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, ImageRecord>();

  constructor(options: ImageGcOptions) {
    const { highThresholdPercent: high, lowThresholdPercent: low } = options.policy;
    if (!(high >= 0 && high <= 100 && low >= 0 && low <= 100 && low <= high)) {
      throw invalidArgument('invalid-image-gc-policy', `image GC thresholds must be 0-100 with low (${low}) not above high (${high})`);
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Capacity and free space of the filesystem that holds the runtime's images (ImageFsInfo's mountpoint). */
  async imageFsUsage(signal: AbortSignal): Promise<ImageFsUsage> {
    const info = await this.#options.image.imageFsInfo({}, { signal, timeoutMs: this.#options.callTimeoutMs });
    const mountpoint = info.imageFilesystems[0]?.fsId?.mountpoint ?? '';
    if (mountpoint === '') throw failedPrecondition('image-fs-unknown', 'the runtime reports no image filesystem');
    const fs = await statfs(mountpoint);
    return { mountpoint, capacityBytes: fs.blocks * fs.bsize, availableBytes: Math.min(fs.bavail, fs.blocks) * fs.bsize };
  }

  /** Looks at images and containers: records first sight and last use of each image. */
  async detectImages(signal: AbortSignal): Promise<Image[]> {
    const options = { signal, timeoutMs: this.#options.callTimeoutMs };
    const [{ images }, { containers }, status] = await Promise.all([
      this.#options.image.listImages({}, options),
      this.#options.runtime.listContainers({}, options),
      this.#options.runtime.status({ verbose: true }, options),
    ]);
    const used = new Set<string>();
    for (const c of containers) for (const n of [c.imageRef, c.imageId, c.image?.image ?? '']) if (n !== '') used.add(n);
    const sandboxImage = sandboxImageOf(status.info);
    const now = this.#now();
    const seen = new Set<string>();
    for (const image of images) {
      seen.add(image.id);
      const all = names(image);
      const record = this.#records.get(image.id) ?? { firstDetected: now, lastUsed: 0, size: 0, pinned: false, inUse: false };
      record.size = Number(image.size);
      record.pinned = image.pinned || (sandboxImage !== undefined && all.includes(sandboxImage));
      record.inUse = all.some((n) => used.has(n));
      if (record.inUse) record.lastUsed = now;
      this.#records.set(image.id, record);
    }
    for (const id of this.#records.keys()) if (!seen.has(id)) this.#records.delete(id);
    return images;
  }

  /** One round: above the high threshold, remove unused images down to the low one; throws when it cannot free enough. */
  async garbageCollect(signal: AbortSignal): Promise<ImageGcResult> {
    const { policy, logger, nodeEvent } = this.#options;
    await this.detectImages(signal);
    const fs = await this.imageFsUsage(signal);
    if (fs.capacityBytes === 0) {
      const message = `invalid capacity 0 on image filesystem ${fs.mountpoint}`;
      nodeEvent?.('Warning', 'InvalidDiskCapacity', message);
      throw failedPrecondition('image-fs-unknown', message);
    }
    const usagePercent = 100 - Math.floor((fs.availableBytes * 100) / fs.capacityBytes);
    if (usagePercent < policy.highThresholdPercent) return { usagePercent, toFreeBytes: 0, freedBytes: 0, removed: [] };
    const toFreeBytes = Math.floor((fs.capacityBytes * (100 - policy.lowThresholdPercent)) / 100) - fs.availableBytes;
    logger.info(
      {
        usage: usagePercent,
        highThreshold: policy.highThresholdPercent,
        lowThreshold: policy.lowThresholdPercent,
        amountToFree: toFreeBytes,
      },
      'disk usage on the image filesystem is over the high threshold; freeing down to the low threshold',
    );
    const { freedBytes, removed, errors } = await this.#freeSpace(toFreeBytes, signal);
    if (freedBytes < toFreeBytes) {
      const message = `Failed to garbage collect required amount of images. Attempted to free ${toFreeBytes} bytes, but only found ${freedBytes} bytes eligible to free.`;
      nodeEvent?.('Warning', 'FreeDiskSpaceFailed', message);
      throw Object.assign(internal('image-gc-failed', message), { result: { usagePercent, toFreeBytes, freedBytes, removed }, errors });
    }
    if (errors.length > 0) throw Object.assign(internal('image-remove-failed', `removing ${errors.length} image(s) failed`), { errors });
    return { usagePercent, toFreeBytes, freedBytes, removed };
  }

  async #freeSpace(toFreeBytes: number, signal: AbortSignal): Promise<{ freedBytes: number; removed: string[]; errors: Error[] }> {
    const { policy, logger, image, callTimeoutMs } = this.#options;
    const candidates = removableImages(this.#records, this.#now(), policy.minAgeMs);
    let freedBytes = 0;
    const removed: string[] = [];
    const errors: Error[] = [];
    for (const [id, record] of candidates) {
      if (freedBytes >= toFreeBytes) break;
      logger.info({ imageID: id, size: record.size, lastUsed: record.lastUsed || undefined }, 'removing an unused image');
      try {
        await image.removeImage({ image: { image: id } }, { signal, timeoutMs: callTimeoutMs });
      } catch (e) {
        if (signal.aborted) throw e;
        errors.push(e as Error);
        continue;
      }
      this.#records.delete(id);
      removed.push(id);
      freedBytes += record.size;
    }
    return { freedBytes, removed, errors };
  }

  /** Every period until `signal` aborts; a second failure in a row is an ImageGCFailed event. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, nodeEvent, policy } = this.#options;
    let failedBefore = false;
    while (!signal.aborted) {
      try {
        await this.garbageCollect(signal);
        failedBefore = false;
      } catch (e) {
        if (signal.aborted) return;
        const message = (e as Error).message;
        if (failedBefore) {
          logger.error({ err: e }, 'image garbage collection failed several times in a row');
          nodeEvent?.('Warning', 'ImageGCFailed', message);
        } else {
          logger.warn({ err: e }, 'image garbage collection failed');
        }
        failedBefore = true;
      }
      try {
        await sleep(policy.periodMs, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}
