// `berth image import FILE`: images from an archive, for nodes without a registry.
//
// Formats (a tar file, or the same gzip- or zstd-compressed, recognised by magic bytes), each with
// its planner: an OCI image layout (import-plan-oci.ts; preferred when the archive also has a
// manifest.json, as `docker save` since Docker 25 writes) and a docker save archive
// (import-plan-docker.ts).
//
// The archive is read as a stream, never extracted (import-archive-scan.ts). A docker-save layer
// has no digest in its name, so a second read of the archive stores the layers it needs with the
// digests the first read computed (and verifies them again). The file must therefore be a regular
// file.
//
// Names (archive-names.ts): tags from `io.containerd.image.name`, or from
// `org.opencontainers.image.ref.name` when it is a full reference; a ref.name that is only a tag
// is used with `baseName` (`<baseName>:<tag>`), or skipped with a warning.
//
// Failure: nothing is recorded unless every image of the archive was stored and unpacked. Every
// blob this import adds and every snapshot it commits registers a step on a CleanupStack that
// removes it unless an image or a lease holds it; the stack unwinds under the GC lock before the
// error is reported (the content store removes its own temp files). On success it unwinds too,
// after the records are written: what the archive held for no imported image (other platforms'
// manifests and layers) goes, and everything the images hold stays.
import { stat } from 'node:fs/promises';
import type { ContentStore } from '../content/content-store.ts';
import { failedPrecondition, invalidArgument, isBerthError, notFound, toBerthError } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import { formatPlatform, type Platform } from '../oci/platform.ts';
import type { ImageReference } from '../oci/reference.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { CleanupStack } from '../util/cleanup-stack.ts';
import type { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import { Leases } from '../util/semaphore.ts';
import { parseBaseName } from './archive-names.ts';
import { readArchive } from './archive-tar.ts';
import type { ImageRecord, ImageStore } from './image-store.ts';
import { type ArchiveContents, badArchive, memberTooLarge, scanArchive } from './import-archive-scan.ts';
import { type ArchivePlanner, checkSize, type ImagePlan, mergePlans, type PlanContext } from './import-plan.ts';
import { planDockerSave } from './import-plan-docker.ts';
import { planOciLayout } from './import-plan-oci.ts';
import { unpackLayers } from './layer-unpack.ts';

export interface ImportDeps {
  content: ContentStore;
  snapshotter: Snapshotter;
  images: ImageStore;
  /** The platform whose manifest is taken from a multi-platform image. */
  platform: Platform;
  /** Serialises unpacks of one chainID; share it with the puller so that both never unpack one layer twice. */
  unpackLock: KeyedLock;
  /** The image GC's lock: held while the records are written and while leftovers are removed. */
  gcLock: KeyedLock;
  /**
   * What operations in flight use; the image GC must keep these. Share them with the puller and
   * the collector; without them, the import's blobs are unprotected from a GC running meanwhile.
   */
  leases?: { blobs: Leases; snapshots: Leases };
  logger: Logger;
}

export type ImportEvent =
  | { kind: 'blob'; digest: Digest; size: number; phase: 'stored' | 'exists' }
  | { kind: 'layer'; digest: Digest; phase: 'unpacking' | 'done' }
  | { kind: 'image'; id: Digest; repoTags: string[] }
  | { kind: 'warning'; message: string };

export interface ImportLimits {
  /** Largest JSON member or blob read into memory (index.json, manifest.json, manifests, configs). Default 16 MiB. */
  maxMetadataBytes: number;
  /** All JSON members kept in memory together. Default 64 MiB. */
  maxMetadataTotalBytes: number;
  /** Largest member of any kind. Default: no limit. */
  maxMemberBytes: number;
  /** Most members in the archive. Default 1,000,000. */
  maxMembers: number;
}

export interface ImportOptions {
  signal?: AbortSignal;
  onEvent?: (event: ImportEvent) => void;
  /** Repository for OCI entries whose ref.name is only a tag (`ctr import --base-name`). */
  baseName?: string;
  limits?: Partial<ImportLimits>;
}

const DEFAULT_LIMITS: ImportLimits = {
  maxMetadataBytes: 16 * 1024 * 1024,
  maxMetadataTotalBytes: 64 * 1024 * 1024,
  maxMemberBytes: Number.MAX_SAFE_INTEGER,
  maxMembers: 1_000_000,
};

/**
 * Imports every image of the archive `file` (see the top of this file). Returns one record per
 * image, as stored (tags merged with any the image had). Errors: invalid-argument for a bad
 * archive (`archive-unsafe-path`, `archive-bad-tar`, `archive-unknown-format`, `bad-archive`,
 * `archive-blob-missing`, `archive-member-too-large`, `archive-no-images`, `bad-manifest`), failed-precondition
 * `digest-mismatch` / `size-mismatch` / `diff-id-mismatch` for content that is not what it claims,
 * not-found `archive-not-found`, and the signal's error when cancelled.
 */
export async function importArchive(deps: ImportDeps, file: string, options: ImportOptions = {}): Promise<ImageRecord[]> {
  const started = performance.now();
  const run = new ImportRun(deps, file, options);
  const records = await run.run();
  deps.logger.info(
    { file, images: records.map((r) => ({ id: r.id, tags: r.repoTags })), ms: Math.round(performance.now() - started) },
    'images imported',
  );
  return records;
}

/** The planners by the member that identifies their format, in order of preference. */
const PLANNERS: readonly { member: string; plan: ArchivePlanner }[] = [
  { member: 'index.json', plan: planOciLayout },
  { member: 'manifest.json', plan: planDockerSave },
];

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** One import: read, plan, store, unpack, record; or remove what it added. */
class ImportRun {
  readonly #deps: ImportDeps;
  readonly #file: string;
  readonly #options: ImportOptions;
  readonly #limits: ImportLimits;
  readonly #signal: AbortSignal | undefined;
  readonly #blobLeases: Leases;
  readonly #snapshotLeases: Leases;
  #baseName: ImageReference | undefined;

  /** Releases of every lease this import holds; unwound when it ends, whatever the outcome. */
  readonly #leases = new CleanupStack();
  readonly #leasedBlobs = new Set<string>();
  /** One step per blob this import added and snapshot it committed: each removes its own unless held. */
  readonly #added = new CleanupStack();
  readonly #addedBlobs = new Set<Digest>();
  /** What images and leases hold, taken under the GC lock just before #added unwinds. */
  #held = { blobs: new Set<string>(), snapshots: new Set<string>() };
  #removed = { blobs: 0, snapshots: 0 };

  constructor(deps: ImportDeps, file: string, options: ImportOptions) {
    this.#deps = deps;
    this.#file = file;
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#signal = options.signal;
    this.#blobLeases = deps.leases?.blobs ?? new Leases();
    this.#snapshotLeases = deps.leases?.snapshots ?? new Leases();
  }

  async run(): Promise<ImageRecord[]> {
    try {
      if (this.#options.baseName !== undefined && this.#options.baseName !== '') this.#baseName = parseBaseName(this.#options.baseName);
      await this.#checkFile();
      const contents = await scanArchive(this.#file, {
        limits: this.#limits,
        signal: this.#signal,
        ingest: (expected, source) => this.#ingest(expected, source),
      });
      const plans = mergePlans(await this.#plan(contents));
      if (plans.length === 0) {
        throw badArchive('archive-no-images', `${this.#file}: no image for ${formatPlatform(this.#deps.platform)} in the archive`, {
          platform: formatPlatform(this.#deps.platform),
        });
      }
      await this.#storePending(plans);
      for (const plan of plans) await this.#storeInMemory(plan);
      for (const plan of plans) await this.#unpack(plan);
      return await this.#record(plans);
    } catch (e) {
      const error = toBerthError(e);
      await this.#deps.gcLock
        .run('gc', () => this.#removeUnheld())
        .catch((cleanupError: unknown) =>
          this.#deps.logger.warn({ file: this.#file, err: cleanupError }, 'import: removing what a failed import left failed'),
        );
      throw error;
    } finally {
      await this.#leases.unwind();
    }
  }

  #event(event: ImportEvent): void {
    this.#options.onEvent?.(event);
  }

  #warn(message: string): void {
    this.#deps.logger.warn({ file: this.#file }, message);
    this.#event({ kind: 'warning', message });
  }

  #leaseBlob(digest: Digest): void {
    if (this.#leasedBlobs.has(digest)) return;
    this.#leasedBlobs.add(digest);
    const release = this.#blobLeases.hold([digest]);
    this.#leases.push(`lease ${digest}`, () => {
      release();
      this.#leasedBlobs.delete(digest);
    });
  }

  async #checkFile(): Promise<void> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.#file);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') {
        throw notFound('archive-not-found', `${this.#file}: no such file`, { fields: { file: this.#file } });
      }
      throw e;
    }
    if (!st.isFile()) throw invalidArgument('bad-archive', `${this.#file}: not a regular file`, { fields: { file: this.#file } });
  }

  /** Stores `source` under `expected`, registering its removal when this import added it. */
  async #ingest(expected: { digest: Digest; size: number }, source: AsyncIterable<Uint8Array>): Promise<void> {
    this.#leaseBlob(expected.digest);
    const present = await this.#deps.content.info(expected.digest);
    if (present?.size === expected.size) {
      this.#event({ kind: 'blob', ...expected, phase: 'exists' });
      return;
    }
    await this.#deps.content.ingest(expected, source, { signal: this.#signal });
    this.#addedBlob(expected.digest);
    this.#event({ kind: 'blob', ...expected, phase: 'stored' });
  }

  #addedBlob(digest: Digest): void {
    if (this.#addedBlobs.has(digest)) return;
    this.#addedBlobs.add(digest);
    this.#added.push(`blob ${digest}`, async () => {
      this.#addedBlobs.delete(digest);
      if (this.#held.blobs.has(digest)) return;
      await this.#deps.content.delete(digest);
      this.#removed.blobs++;
    });
  }

  #committedSnapshot(chainId: Digest): void {
    this.#added.push(`snapshot ${chainId}`, async () => {
      if (this.#held.snapshots.has(chainId)) return;
      await this.#deps.snapshotter.remove(chainId);
      this.#removed.snapshots++;
    });
  }

  // ---- what the archive holds ----

  #plan(contents: ArchiveContents): Promise<ImagePlan[]> {
    for (const { member, plan } of PLANNERS) {
      const data = contents.files.get(member)?.data;
      if (data !== undefined) return plan(this.#planContext(contents), data);
    }
    throw badArchive(
      'archive-unknown-format',
      `${this.#file}: neither an OCI image layout (no index.json) nor a docker save archive (no manifest.json)`,
      { file: this.#file },
    );
  }

  #planContext(contents: ArchiveContents): PlanContext {
    const { content, platform } = this.#deps;
    const ctx: PlanContext = {
      file: this.#file,
      platform,
      baseName: this.#baseName,
      contents,
      warn: (message) => this.#warn(message),
      blobSize: async (digest) => {
        this.#leaseBlob(digest);
        return (await content.info(digest))?.size;
      },
      readSmallBlob: async (desc, what) => {
        const size = await ctx.blobSize(desc.digest);
        if (size === undefined) {
          throw badArchive('archive-blob-missing', `${this.#file}: ${what} ${desc.digest} is not in the archive`, { digest: desc.digest });
        }
        checkSize(ctx, desc, size, what);
        const limit = this.#limits.maxMetadataBytes;
        if (size > limit) throw memberTooLarge(this.#file, `${what} ${desc.digest}`, size, limit);
        return content.readBlob(desc.digest, this.#signal);
      },
      headOfBlob: async (digest) => {
        const stream = content.openRead(digest);
        try {
          for await (const chunk of stream) return Buffer.from((chunk as Buffer).subarray(0, 8));
          return Buffer.alloc(0);
        } finally {
          stream.destroy();
        }
      },
      present: async (manifests) => {
        const present: Descriptor[] = [];
        for (const m of manifests) if (await content.info(m.digest)) present.push(m);
        return present;
      },
    };
    return ctx;
  }

  // ---- second read: docker-save layers ----

  async #storePending(plans: ImagePlan[]): Promise<void> {
    const pending = new Map<string, { digest: Digest; size: number }>();
    for (const plan of plans) {
      for (const [p, blob] of plan.pending) {
        this.#leaseBlob(blob.digest);
        const present = await this.#deps.content.info(blob.digest);
        if (present?.size === blob.size) this.#event({ kind: 'blob', ...blob, phase: 'exists' });
        else pending.set(p, blob);
      }
    }
    if (pending.size === 0) return;
    for await (const member of readArchive(this.#file, { signal: this.#signal })) {
      const blob = member.type === 'file' ? pending.get(member.path) : undefined;
      if (blob === undefined) continue;
      await this.#ingest(blob, member.body);
      pending.delete(member.path);
      if (pending.size === 0) return;
    }
    const missing = [...pending.keys()];
    throw badArchive('bad-archive', `${this.#file}: changed while it was read: ${missing.join(', ')} not found again`, { missing });
  }

  async #storeInMemory(plan: ImagePlan): Promise<void> {
    for (const [digest, bytes] of plan.inMemory) await this.#ingest({ digest, size: bytes.length }, once(bytes));
  }

  // ---- unpack and record ----

  async #unpack(plan: ImagePlan): Promise<void> {
    this.#leases.push(`lease ${plan.source}`, this.#snapshotLeases.hold(plan.chainIds));
    const unpacking = new Set<number>();
    try {
      await unpackLayers({
        snapshotter: this.#deps.snapshotter,
        content: this.#deps.content,
        layers: plan.layers,
        chainIds: plan.chainIds,
        lock: this.#deps.unpackLock,
        ready: () => Promise.resolve(),
        onEvent: (i, phase) => {
          if (phase === 'unpacking') unpacking.add(i);
          else if (unpacking.has(i)) this.#committedSnapshot(plan.chainIds[i]!);
          this.#event({ kind: 'layer', digest: plan.layers[i]!.digest, phase });
        },
        signal: this.#signal,
      });
    } catch (e) {
      if (isBerthError(e) && e.code === 'diff-id-mismatch') {
        throw failedPrecondition('diff-id-mismatch', `${this.#file}: ${plan.source}: ${e.message}`, { cause: e, fields: e.fields });
      }
      throw e;
    }
  }

  async #record(plans: ImagePlan[]): Promise<ImageRecord[]> {
    const { images, gcLock } = this.#deps;
    const records = await gcLock.run('gc', async () => {
      const out: ImageRecord[] = [];
      for (const plan of plans) {
        const record: ImageRecord = {
          id: plan.config.digest,
          repoTags: plan.names.repoTags,
          repoDigests: plan.names.repoDigests,
          manifest: plan.manifest,
          config: plan.config,
          layers: plan.layers,
          chainIds: plan.chainIds,
          contentRefs: plan.contentRefs,
          size: plan.config.size + plan.layers.reduce((n, l) => n + l.size, 0),
          pinned: false,
          pulledAt: Date.now(),
        };
        out.push(images.put(record));
      }
      // What the archive held for nobody (other platforms): gone now, while GC cannot run.
      await this.#removeUnheld();
      return out;
    });
    for (const r of records) this.#event({ kind: 'image', id: r.id, repoTags: r.repoTags });
    // A later record may have taken a tag from an earlier one of the same archive.
    return records.map((r) => images.get(r.id) ?? r);
  }

  /** Releases the leases, then unwinds #added: what this import added that no image and no lease holds goes. Call under the GC lock. */
  async #removeUnheld(): Promise<void> {
    const { images, logger } = this.#deps;
    await this.#leases.unwind();
    this.#held = { blobs: new Set<string>(this.#blobLeases.keys()), snapshots: new Set<string>(this.#snapshotLeases.keys()) };
    for (const image of images.list()) {
      for (const d of image.contentRefs) this.#held.blobs.add(d);
      for (const c of image.chainIds) this.#held.snapshots.add(c);
    }
    this.#removed = { blobs: 0, snapshots: 0 };
    await this.#added.unwind((step, err) => logger.warn({ file: this.#file, step, err }, 'import: could not remove what it added'));
    const { blobs, snapshots } = this.#removed;
    if (blobs + snapshots > 0) logger.info({ file: this.#file, blobs, snapshots }, 'import: removed unused content');
  }
}
