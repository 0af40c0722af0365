// `berth image import FILE`: images from an archive, for nodes without a registry.
//
// Formats (a tar file, or the same gzip- or zstd-compressed, recognised by magic bytes):
//  - OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): skopeo's `oci-archive:`,
//    `ctr export`, buildx `type=oci`, `docker save` since Docker 25 (which adds a manifest.json;
//    index.json is preferred). An index.json entry that is itself an index (multi-platform) gives
//    the manifest for this node's platform; entries for other platforms are skipped.
//  - docker save (`manifest.json` with Config, RepoTags, Layers): layers are uncompressed tars
//    (`<id>/layer.tar`, or `blobs/sha256/<hex>` since Docker 25; gzip or zstd ones are recognised
//    too); each must hash to the config's diff_id. They are stored as blobs of media type
//    `application/vnd.docker.image.rootfs.diff.tar` (digest = diffID), and a Docker schema 2
//    manifest over them is made and stored, as containerd does, so that every image has one.
//
// The archive is read as a stream, never extracted: every member name is checked (archive-tar.ts);
// `blobs/<alg>/<hex>` members go straight into the content store, verified against their name;
// other members are hashed, and small JSON files (index.json, manifest.json, configs) kept in
// memory. A docker-save layer has no digest in its name, so a second read of the archive stores
// the layers it needs with the digests the first read computed (and verifies them again).
// The file must therefore be a regular file.
//
// Names (archive-names.ts): tags from `io.containerd.image.name`, or from
// `org.opencontainers.image.ref.name` when it is a full reference; a ref.name that is only a tag
// is used with `baseName` (`<baseName>:<tag>`), or skipped with a warning. OCI entries also get
// the repo digest `name@<entry digest>` (what a pull of that name records, so a pod that names the
// image by digest finds it); docker-save images get none (there is no registry manifest).
//
// Failure: nothing is recorded unless every image of the archive was stored and unpacked. Blobs
// this import added and snapshots it committed that no image holds are removed before the error
// is reported (under the GC lock, skipping what another operation leases); the content store
// removes its own temp files. On success, blobs of the archive that no imported image uses (other
// platforms' manifests and layers) are removed the same way.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { ContentStore } from '../content/content-store.ts';
import {
  type BerthError,
  type CodeOfKind,
  failedPrecondition,
  invalidArgument,
  isBerthError,
  notFound,
  toBerthError,
} from '../errors/errors.ts';
import { chainIds as chainIdsOf } from '../oci/chain-id.ts';
import { type Digest, isDigest, sha256Digest } from '../oci/digest.ts';
import {
  type Descriptor,
  type ImageConfig,
  isIndexMediaType,
  isManifestMediaType,
  MediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
} from '../oci/image-spec.ts';
import { formatPlatform, type Platform, platformMatcher, selectManifest } from '../oci/platform.ts';
import type { ImageReference } from '../oci/reference.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import { Leases } from '../util/semaphore.ts';
import { type ArchiveNames, dockerSaveNames, ociEntryNames, parseBaseName } from './archive-names.ts';
import { type ArchiveMember, archivePath, readArchive, resolveLink } from './archive-tar.ts';
import type { ImageRecord, ImageStore, LayerRecord } from './image-store.ts';
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

const OCI_LAYOUT_VERSION = '1.0.0';
const MAX_INDEX_DEPTH = 4;
const MAX_LINK_HOPS = 16;
const BLOB_PATH_RE = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;
const METADATA_NAMES = new Set(['oci-layout', 'index.json', 'manifest.json', 'repositories']);

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

/** A regular file of the archive, as the first read saw it. */
interface MemberInfo {
  path: string;
  size: number;
  /** For a `blobs/` member the digest its name gives (verified when stored); else the sha256 of its bytes. */
  digest: Digest;
  /** The first bytes (magic numbers), when the member was read. */
  head: Buffer;
  /** Bytes of a small JSON member, kept in memory. */
  data?: Buffer;
  /** Stored in the content store under `digest` during the first read. */
  blob: boolean;
}

interface ImagePlan {
  /** Where the image comes from, for messages: `index.json manifests[0]`, `manifest.json[1]`. */
  source: string;
  names: ArchiveNames;
  manifest: { digest: Digest; mediaType: string; size: number };
  config: { digest: Digest; size: number };
  layers: LayerRecord[];
  chainIds: Digest[];
  contentRefs: Digest[];
  /** Blobs this image needs that only memory holds so far (made manifest, docker-save config). */
  inMemory: Map<Digest, Buffer>;
  /** Docker-save layers that a second read must store: archive path → expected blob. */
  pending: Map<string, { digest: Digest; size: number }>;
}

function badArchive(code: CodeOfKind<'invalid-argument'>, message: string, fields: Record<string, unknown> = {}): BerthError {
  return invalidArgument(code, message, { fields });
}

function blobDigestOfPath(p: string): Digest | undefined {
  const m = BLOB_PATH_RE.exec(p);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isDigest(d) ? d : undefined;
}

function isMetadataPath(p: string): boolean {
  return METADATA_NAMES.has(p) || (!p.includes('/') && p.endsWith('.json'));
}

function compressionOf(head: Buffer): 'none' | 'gzip' | 'zstd' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw badArchive('bad-archive', `${what}: not JSON (${(e as Error).message})`);
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Passes the member's bytes through, keeping the first few. */
async function* peek(body: AsyncIterable<Buffer>, head: { bytes: Buffer }): AsyncIterable<Buffer> {
  for await (const chunk of body) {
    if (head.bytes.length < 8) head.bytes = Buffer.concat([head.bytes, chunk.subarray(0, 8 - head.bytes.length)]);
    yield chunk;
  }
}

class ImportRun {
  readonly #deps: ImportDeps;
  readonly #file: string;
  readonly #options: ImportOptions;
  readonly #limits: ImportLimits;
  readonly #signal: AbortSignal | undefined;
  readonly #blobLeases: Leases;
  readonly #snapshotLeases: Leases;
  #baseName: ImageReference | undefined;

  readonly #files = new Map<string, MemberInfo>();
  readonly #links = new Map<string, string>();
  #metadataBytes = 0;
  /** Releases of every lease this import holds. */
  readonly #releases: (() => void)[] = [];
  readonly #leasedBlobs = new Set<string>();
  /** Blobs that were not in the store before this import stored them. */
  readonly #added = new Set<Digest>();
  /** Snapshots this import committed, bottom to top. */
  readonly #committed: Digest[] = [];

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
      await this.#scan();
      const plans = this.#merge(await this.#plan());
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
      await this.#removeLeftovers().catch((cleanupError: unknown) =>
        this.#deps.logger.warn({ file: this.#file, err: cleanupError }, 'import: removing what a failed import left failed'),
      );
      throw error;
    } finally {
      this.#releaseLeases();
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
    this.#releases.push(this.#blobLeases.hold([digest]));
  }

  #releaseLeases(): void {
    for (const release of this.#releases.splice(0)) release();
    this.#leasedBlobs.clear();
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

  /** Stores `source` under `expected`, recording whether this import added it. */
  async #ingest(expected: { digest: Digest; size: number }, source: AsyncIterable<Uint8Array>): Promise<void> {
    this.#leaseBlob(expected.digest);
    const present = await this.#deps.content.info(expected.digest);
    if (present?.size === expected.size) {
      this.#event({ kind: 'blob', ...expected, phase: 'exists' });
      return;
    }
    await this.#deps.content.ingest(expected, source, { signal: this.#signal });
    this.#added.add(expected.digest);
    this.#event({ kind: 'blob', ...expected, phase: 'stored' });
  }

  // ---- first read: store blobs, hash the rest, keep the JSON ----

  async #scan(): Promise<void> {
    let count = 0;
    for await (const member of readArchive(this.#file, { signal: this.#signal })) {
      if (++count > this.#limits.maxMembers) {
        throw badArchive('archive-too-many-members', `${this.#file}: more than ${this.#limits.maxMembers} members`);
      }
      if (member.type !== 'file' && member.type !== 'symlink' && member.type !== 'hardlink') continue;
      if (this.#files.has(member.path) || this.#links.has(member.path)) {
        throw badArchive('bad-archive', `${this.#file}: the member "${member.path}" appears twice`, { member: member.path });
      }
      if (member.type !== 'file') {
        this.#links.set(member.path, resolveLink(member.path, member.linkpath ?? '', member.type));
        continue;
      }
      if (member.size > this.#limits.maxMemberBytes) throw this.#tooLarge(member.path, member.size, this.#limits.maxMemberBytes);
      this.#files.set(member.path, await this.#scanFile(member));
    }
  }

  #tooLarge(member: string, size: number, limit: number): BerthError {
    return badArchive(
      'archive-member-too-large',
      `${this.#file}: the member "${member}" has ${size} bytes, more than the ${limit} allowed`,
      {
        member,
        size,
        limit,
      },
    );
  }

  async #scanFile(member: ArchiveMember): Promise<MemberInfo> {
    const head = { bytes: Buffer.alloc(0) };
    const blobDigest = blobDigestOfPath(member.path);
    if (blobDigest !== undefined) {
      await this.#ingest({ digest: blobDigest, size: member.size }, peek(member.body, head));
      return { path: member.path, size: member.size, digest: blobDigest, head: head.bytes, blob: true };
    }
    if (isMetadataPath(member.path)) {
      if (member.size > this.#limits.maxMetadataBytes) throw this.#tooLarge(member.path, member.size, this.#limits.maxMetadataBytes);
      this.#metadataBytes += member.size;
      if (this.#metadataBytes > this.#limits.maxMetadataTotalBytes) {
        throw badArchive(
          'archive-member-too-large',
          `${this.#file}: more than ${this.#limits.maxMetadataTotalBytes} bytes of JSON members`,
        );
      }
      const chunks: Buffer[] = [];
      for await (const chunk of member.body) chunks.push(chunk);
      const data = Buffer.concat(chunks);
      return { path: member.path, size: data.length, digest: sha256Digest(data), head: data.subarray(0, 8), data, blob: false };
    }
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of peek(member.body, head)) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { path: member.path, size, digest: `sha256:${hash.digest('hex')}` as Digest, head: head.bytes, blob: false };
  }

  /** A regular file by archive path, links followed. */
  #lookup(p: string): MemberInfo | undefined {
    let current = p;
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const target = this.#links.get(current);
      if (target === undefined) return this.#files.get(current);
      current = target;
    }
    throw badArchive('bad-archive', `${this.#file}: too many links from "${p}"`, { member: p });
  }

  // ---- what the archive holds ----

  async #plan(): Promise<ImagePlan[]> {
    const index = this.#files.get('index.json');
    const dockerManifest = this.#files.get('manifest.json');
    if (index?.data !== undefined) return this.#planOci(index.data);
    if (dockerManifest?.data !== undefined) return this.#planDockerSave(dockerManifest.data);
    throw badArchive(
      'archive-unknown-format',
      `${this.#file}: neither an OCI image layout (no index.json) nor a docker save archive (no manifest.json)`,
      { file: this.#file },
    );
  }

  /** A manifest, index or config from the content store, after checking its size against the descriptor and the limit. */
  async #readSmallBlob(desc: { digest: Digest; size: number }, what: string): Promise<Buffer> {
    this.#leaseBlob(desc.digest);
    const info = await this.#deps.content.info(desc.digest);
    if (info === undefined) {
      throw badArchive('archive-blob-missing', `${this.#file}: ${what} ${desc.digest} is not in the archive`, { digest: desc.digest });
    }
    this.#checkSize(desc, info.size, what);
    if (info.size > this.#limits.maxMetadataBytes) throw this.#tooLarge(`${what} ${desc.digest}`, info.size, this.#limits.maxMetadataBytes);
    return this.#deps.content.readBlob(desc.digest, this.#signal);
  }

  #checkSize(desc: { digest: Digest; size: number }, actual: number, what: string): void {
    if (actual !== desc.size) {
      throw failedPrecondition(
        'size-mismatch',
        `${this.#file}: ${what} ${desc.digest} has ${actual} bytes, its descriptor says ${desc.size}`,
        {
          fields: { digest: desc.digest, expected: desc.size, actual },
        },
      );
    }
  }

  async #planOci(indexBytes: Buffer): Promise<ImagePlan[]> {
    const layout = this.#files.get('oci-layout');
    if (layout?.data !== undefined) {
      const version = (parseJson(layout.data, 'oci-layout') as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
      if (version !== OCI_LAYOUT_VERSION) {
        throw badArchive('bad-archive', `${this.#file}: unsupported OCI layout version ${JSON.stringify(version)}`, { version });
      }
    }
    const index = parseIndex(indexBytes, MediaType.ociIndex);
    const matcher = platformMatcher(this.#deps.platform);
    const plans: { plan: ImagePlan; rank: number }[] = [];
    for (const [i, entry] of index.manifests.entries()) {
      const source = `index.json manifests[${i}]`;
      let rank = 0;
      if (entry.platform !== undefined) {
        rank = matcher.rank(entry.platform);
        if (rank < 0) {
          this.#warn(`${source}: skipped ${entry.digest}, an image for ${formatPlatform(entry.platform)}`);
          continue;
        }
      }
      if (!isIndexMediaType(entry.mediaType) && !isManifestMediaType(entry.mediaType)) {
        this.#warn(`${source}: skipped ${entry.digest} of media type ${entry.mediaType}: not an image`);
        continue;
      }
      const names = ociEntryNames(entry.annotations, entry.digest, this.#baseName);
      for (const w of names.warnings) this.#warn(w);
      plans.push({ plan: await this.#planOciImage(entry, source, names), rank });
    }
    // When several entries suit this platform, the best one is recorded last and keeps the tags.
    return plans.sort((a, b) => b.rank - a.rank).map((p) => p.plan);
  }

  async #planOciImage(entry: Descriptor, source: string, names: ArchiveNames): Promise<ImagePlan> {
    const contentRefs: Digest[] = [];
    let desc = entry;
    for (let depth = 0; isIndexMediaType(desc.mediaType); depth++) {
      if (depth >= MAX_INDEX_DEPTH) throw badArchive('bad-archive', `${this.#file}: ${source}: indexes nested too deep`);
      const index = parseIndex(await this.#readSmallBlob(desc, 'index'), desc.mediaType);
      contentRefs.push(desc.digest);
      // Choose among the manifests the archive holds: `docker save` keeps only some platforms.
      const present: Descriptor[] = [];
      for (const m of index.manifests) if (await this.#deps.content.info(m.digest)) present.push(m);
      desc = selectManifest({ ...index, manifests: present }, this.#deps.platform);
    }
    const manifestBytes = await this.#readSmallBlob(desc, 'manifest');
    const manifest = parseManifest(manifestBytes, desc.mediaType);
    contentRefs.push(desc.digest);
    const config = parseImageConfig(await this.#readSmallBlob(manifest.config, 'image config'));
    contentRefs.push(manifest.config.digest);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw invalidArgument(
        'bad-manifest',
        `${this.#file}: ${source}: the manifest has ${manifest.layers.length} layers but the config names ${diffIds.length}`,
      );
    }
    const layers: LayerRecord[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      this.#leaseBlob(layer.digest);
      const info = await this.#deps.content.info(layer.digest);
      if (info === undefined) {
        throw badArchive('archive-blob-missing', `${this.#file}: ${source}: layer ${layer.digest} is not in the archive`, {
          digest: layer.digest,
        });
      }
      this.#checkSize(layer, info.size, 'layer');
      layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId: diffIds[i]! });
      contentRefs.push(layer.digest);
    }
    return {
      source,
      names,
      manifest: { digest: desc.digest, mediaType: desc.mediaType, size: manifestBytes.length },
      config: { digest: manifest.config.digest, size: manifest.config.size },
      layers,
      chainIds: chainIdsOf(diffIds),
      contentRefs,
      inMemory: new Map(),
      pending: new Map(),
    };
  }

  async #planDockerSave(bytes: Buffer): Promise<ImagePlan[]> {
    const list = parseJson(bytes, 'manifest.json');
    if (!Array.isArray(list)) throw badArchive('bad-archive', `${this.#file}: manifest.json is not a list`);
    const plans: ImagePlan[] = [];
    for (const [i, raw] of list.entries()) {
      const source = `manifest.json[${i}]`;
      const entry = raw as { Config?: unknown; RepoTags?: unknown; Layers?: unknown } | null;
      const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
      if (entry === null || typeof entry !== 'object' || typeof entry.Config !== 'string' || !strings(entry.Layers)) {
        throw badArchive('bad-archive', `${this.#file}: ${source} needs a Config path and a list of Layers`);
      }
      if (entry.RepoTags !== undefined && entry.RepoTags !== null && !strings(entry.RepoTags)) {
        throw badArchive('bad-archive', `${this.#file}: ${source}: RepoTags must be a list of names`);
      }
      const names = dockerSaveNames((entry.RepoTags as string[] | null | undefined) ?? [], source);
      for (const w of names.warnings) this.#warn(w);
      plans.push(await this.#planDockerImage(source, entry.Config, entry.Layers as string[], names));
    }
    return plans;
  }

  /** A path that manifest.json names, checked like a member name. */
  #checkedPath(p: string, what: string): string {
    try {
      return archivePath(p);
    } catch (e) {
      throw badArchive('archive-unsafe-path', `${this.#file}: ${what} "${p}": ${(e as Error).message}`, { member: p });
    }
  }

  #member(p: string, what: string): MemberInfo {
    const info = this.#lookup(this.#checkedPath(p, what));
    if (info === undefined) throw badArchive('archive-blob-missing', `${this.#file}: ${what} "${p}" is not in the archive`, { member: p });
    return info;
  }

  async #planDockerImage(source: string, configPath: string, layerPaths: string[], names: ArchiveNames): Promise<ImagePlan> {
    const inMemory = new Map<Digest, Buffer>();
    const configMember = this.#member(configPath, `${source} config`);
    let configBytes: Buffer;
    if (configMember.blob) configBytes = await this.#readSmallBlob(configMember, 'image config');
    else if (configMember.data !== undefined) {
      configBytes = configMember.data;
      inMemory.set(configMember.digest, configBytes);
    } else {
      throw badArchive('bad-archive', `${this.#file}: ${source}: the config "${configPath}" is neither a blob nor a top-level JSON file`);
    }
    const config: ImageConfig = parseImageConfig(configBytes);
    const configDigest = configMember.blob ? configMember.digest : sha256Digest(configBytes);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layerPaths.length) {
      throw invalidArgument(
        'bad-manifest',
        `${this.#file}: ${source} lists ${layerPaths.length} layers but its config names ${diffIds.length}`,
      );
    }
    const layers: LayerRecord[] = [];
    const pending = new Map<string, { digest: Digest; size: number }>();
    for (const [i, layerPath] of layerPaths.entries()) {
      const member = this.#member(layerPath, `${source} layer`);
      let head = member.head;
      if (member.blob && head.length === 0 && member.size > 0) head = await this.#headOfBlob(member.digest);
      const compression = compressionOf(head);
      const mediaType =
        compression === 'gzip' ? MediaType.dockerLayerGzip : compression === 'zstd' ? MediaType.dockerLayerZstd : MediaType.dockerLayer;
      // An uncompressed layer is its own diffID: check now. A compressed one is checked as it unpacks.
      if (compression === 'none' && member.digest !== diffIds[i]) {
        throw failedPrecondition(
          'diff-id-mismatch',
          `${this.#file}: ${source}: layer "${layerPath}" has digest ${member.digest}, but the config's diff_ids[${i}] is ${diffIds[i]}`,
          { fields: { layer: layerPath, expected: diffIds[i], actual: member.digest } },
        );
      }
      layers.push({ digest: member.digest, size: member.size, mediaType, diffId: diffIds[i]! });
      if (!member.blob) pending.set(this.#resolve(layerPath), { digest: member.digest, size: member.size });
    }
    // Docker's own image has no manifest: make the schema 2 manifest a registry would serve.
    const manifestJson = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: configDigest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifestJson));
    const manifestDigest = sha256Digest(manifestBytes);
    inMemory.set(manifestDigest, manifestBytes);
    return {
      source,
      names,
      manifest: { digest: manifestDigest, mediaType: MediaType.dockerManifest, size: manifestBytes.length },
      config: { digest: configDigest, size: configBytes.length },
      layers,
      chainIds: chainIdsOf(diffIds),
      contentRefs: [manifestDigest, configDigest, ...layers.map((l) => l.digest)],
      inMemory,
      pending,
    };
  }

  /** The archive path a member name leads to, links followed. */
  #resolve(p: string): string {
    let current = archivePath(p);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const target = this.#links.get(current);
      if (target === undefined) return current;
      current = target;
    }
    return current;
  }

  async #headOfBlob(digest: Digest): Promise<Buffer> {
    const stream = this.#deps.content.openRead(digest);
    try {
      for await (const chunk of stream) return Buffer.from((chunk as Buffer).subarray(0, 8));
      return Buffer.alloc(0);
    } finally {
      stream.destroy();
    }
  }

  /** Images with the same ID are one image: their names are merged. */
  #merge(plans: ImagePlan[]): ImagePlan[] {
    const byId = new Map<string, ImagePlan>();
    for (const plan of plans) {
      const seen = byId.get(plan.config.digest);
      if (seen === undefined) {
        byId.set(plan.config.digest, plan);
        continue;
      }
      const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
      seen.names = {
        repoTags: union(seen.names.repoTags, plan.names.repoTags),
        repoDigests: union(seen.names.repoDigests, plan.names.repoDigests),
        warnings: [],
      };
      seen.contentRefs = union(seen.contentRefs, plan.contentRefs) as Digest[];
      for (const [d, b] of plan.inMemory) seen.inMemory.set(d, b);
      for (const [p, b] of plan.pending) seen.pending.set(p, b);
    }
    return [...byId.values()];
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
    this.#releases.push(this.#snapshotLeases.hold(plan.chainIds));
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
          else if (unpacking.has(i)) this.#committed.push(plan.chainIds[i]!);
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
      this.#releaseLeases();
      await this.#removeUnused(false);
      return out;
    });
    for (const r of records) this.#event({ kind: 'image', id: r.id, repoTags: r.repoTags });
    // A later record may have taken a tag from an earlier one of the same archive.
    return records.map((r) => images.get(r.id) ?? r);
  }

  async #removeLeftovers(): Promise<void> {
    await this.#deps.gcLock.run('gc', async () => {
      this.#releaseLeases();
      await this.#removeUnused(true);
    });
  }

  /** Removes blobs (and with `snapshots`, committed layers) this import added that no image and no lease holds. Call under the GC lock. */
  async #removeUnused(snapshots: boolean): Promise<void> {
    const { images, content, snapshotter, logger } = this.#deps;
    const liveBlobs = new Set<string>(this.#blobLeases.keys());
    const liveSnapshots = new Set<string>(this.#snapshotLeases.keys());
    for (const image of images.list()) {
      for (const d of image.contentRefs) liveBlobs.add(d);
      for (const c of image.chainIds) liveSnapshots.add(c);
    }
    let blobs = 0;
    for (const digest of this.#added) {
      if (liveBlobs.has(digest)) continue;
      await content.delete(digest);
      blobs++;
    }
    this.#added.clear();
    let removed = 0;
    if (snapshots) {
      for (const chainId of this.#committed.splice(0).reverse()) {
        if (liveSnapshots.has(chainId)) continue;
        try {
          await snapshotter.remove(chainId);
          removed++;
        } catch (e) {
          logger.warn({ snapshot: chainId, err: e }, 'import: could not remove a layer snapshot');
        }
      }
    }
    if (blobs + removed > 0) logger.info({ file: this.#file, blobs, snapshots: removed }, 'import: removed unused content');
  }
}
