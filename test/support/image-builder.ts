// Builds OCI / Docker schema 2 images in memory and pushes them to a registry
// with the distribution API. Layers come from tar entries written by our own
// tar writer, so tests can build exactly the content they need, malicious
// names included.
//
//   const registry = await startRegistry();
//   const pushed = await pushImage(registry, 'busybox:1', busyboxLikeImage());
//   // pull `${registry.host}/busybox:1`, expect pushed.manifestDigest
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync, constants as zlibConstants, zstdCompressSync } from 'node:zlib';
import type { Credentials } from './registry.ts';
import { type TarEntry, writeTar } from './tar-writer.ts';

// ---------------------------------------------------------------------------
// Media types

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type Compression = 'gzip' | 'zstd' | 'none';
export type ManifestFormat = 'oci' | 'docker';

export function layerMediaType(format: ManifestFormat, compression: Compression): string {
  if (format === 'oci') {
    return compression === 'gzip' ? MediaTypes.ociLayerGzip : compression === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
  }
  return compression === 'gzip' ? MediaTypes.dockerLayerGzip : compression === 'zstd' ? MediaTypes.dockerLayerZstd : MediaTypes.dockerLayer;
}

export function manifestMediaType(format: ManifestFormat): string {
  return format === 'oci' ? MediaTypes.ociManifest : MediaTypes.dockerManifest;
}

export function indexMediaType(format: ManifestFormat): string {
  return format === 'oci' ? MediaTypes.ociIndex : MediaTypes.dockerManifestList;
}

export function configMediaType(format: ManifestFormat): string {
  return format === 'oci' ? MediaTypes.ociConfig : MediaTypes.dockerConfig;
}

// ---------------------------------------------------------------------------
// Specs (what a test asks for) and built artefacts (bytes with digests)

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface LayerSpec {
  /** Entries of the layer's tar, in order. */
  entries?: TarEntry[];
  /** A ready uncompressed tar instead of entries (e.g. a deliberately broken one). */
  tar?: Uint8Array;
  /** Default: the image's `compression`, else 'gzip'. */
  compression?: Compression;
  /** Overrides the media type that format and compression imply. */
  mediaType?: string;
  annotations?: Record<string, string>;
  /** Descriptor `urls` (foreign layers). */
  urls?: string[];
  /**
   * A ready blob as stored (e.g. concatenated gzip members of a bomb too large to build as a
   * tar) and the diffID the config names for it; `compression` says what the blob is.
   */
  blob?: { bytes: Uint8Array; diffId: string };
}

/** The `config` object of an image config (the OCI/Docker field names). */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageSpec {
  /** 'oci' (default) or 'docker' (schema 2). */
  format?: ManifestFormat;
  /** Default linux/amd64. */
  platform?: Platform;
  config?: ImageRunConfig;
  layers: LayerSpec[];
  /** Default compression of the layers. Default 'gzip'. */
  compression?: Compression;
  /** Default: one `created_by` entry per layer. */
  history?: HistoryEntry[];
  /** Default 2024-01-01T00:00:00Z. */
  created?: string;
  author?: string;
  /** Manifest annotations (OCI only). */
  annotations?: Record<string, string>;
  /** Extra top-level fields of the config JSON. */
  configExtra?: Record<string, unknown>;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface BuiltLayer extends Blob {
  compression: Compression;
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  /** The uncompressed tar (empty when the spec gave a ready blob). */
  tar: Buffer;
}

export interface BuiltImage {
  kind: 'image';
  format: ManifestFormat;
  platform: Platform;
  manifest: Blob;
  config: Blob;
  layers: BuiltLayer[];
  /** More blobs that pushImage uploads before the manifest (decoys of negative tests). */
  extraBlobs: Blob[];
  /** Parsed forms of manifest.bytes and config.bytes. */
  manifestJson: ManifestJson;
  configJson: Record<string, unknown>;
}

export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface IndexEntrySpec {
  image: ImageSpec | BuiltImage;
  /** Platform in the index entry. Default: the image's platform; null leaves it out. */
  platform?: Platform | null;
  annotations?: Record<string, string>;
}

export interface IndexSpec {
  /** 'oci' (image index, default) or 'docker' (manifest list). Child images default to the same format. */
  format?: ManifestFormat;
  manifests: IndexEntrySpec[];
  annotations?: Record<string, string>;
}

export interface BuiltIndex {
  kind: 'index';
  format: ManifestFormat;
  index: Blob;
  indexJson: IndexJson;
  images: BuiltImage[];
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function makeBlob(mediaType: string, bytes: Uint8Array | string): Blob {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  return { mediaType, digest: sha256(buf), size: buf.length, bytes: buf };
}

function jsonBlob(mediaType: string, value: unknown): Blob {
  return makeBlob(mediaType, JSON.stringify(value));
}

export function compress(data: Uint8Array, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(data, { level: 6 });
  if (compression === 'zstd') return zstdCompressSync(data, { params: { [zlibConstants.ZSTD_c_compressionLevel]: 3 } });
  return Buffer.from(data);
}

export function buildLayer(spec: LayerSpec, format: ManifestFormat = 'oci', defaultCompression: Compression = 'gzip'): BuiltLayer {
  const compression = spec.compression ?? defaultCompression;
  if (spec.blob !== undefined) {
    const blob = makeBlob(spec.mediaType ?? layerMediaType(format, compression), spec.blob.bytes);
    return { ...blob, compression, diffId: spec.blob.diffId, tar: Buffer.alloc(0) };
  }
  const tar = spec.tar !== undefined ? Buffer.from(spec.tar) : writeTar(spec.entries ?? []);
  const blob = makeBlob(spec.mediaType ?? layerMediaType(format, compression), compress(tar, compression));
  return { ...blob, compression, diffId: sha256(tar), tar };
}

function descriptorOf(blob: Blob, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...extra };
}

const DEFAULT_CREATED = '2024-01-01T00:00:00Z';

function assembleManifest(
  format: ManifestFormat,
  config: Blob,
  layers: readonly BuiltLayer[],
  layerSpecs: readonly LayerSpec[],
  annotations?: Record<string, string>,
): ManifestJson {
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: manifestMediaType(format),
    config: descriptorOf(config),
    layers: layers.map((layer, i) => {
      const spec = layerSpecs[i];
      const extra: Partial<Descriptor> = {};
      if (spec?.urls !== undefined) extra.urls = spec.urls;
      if (spec?.annotations !== undefined) extra.annotations = spec.annotations;
      return descriptorOf(layer, extra);
    }),
  };
  if (annotations !== undefined && format === 'oci') manifest.annotations = annotations;
  return manifest;
}

/** Serialises an image spec: layers (tar, compressed), config, manifest. */
export function buildImage(spec: ImageSpec): BuiltImage {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? { architecture: 'amd64', os: 'linux' };
  const layers = spec.layers.map((layer) => buildLayer(layer, format, spec.compression ?? 'gzip'));
  const created = spec.created ?? DEFAULT_CREATED;
  const configJson: Record<string, unknown> = {
    created,
    ...(spec.author !== undefined ? { author: spec.author } : {}),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    ...(platform['os.version'] !== undefined ? { 'os.version': platform['os.version'] } : {}),
    ...(platform['os.features'] !== undefined ? { 'os.features': platform['os.features'] } : {}),
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: spec.history ?? layers.map((_, i) => ({ created, created_by: `berth-test layer ${i + 1}` })),
    ...spec.configExtra,
  };
  const config = jsonBlob(configMediaType(format), configJson);
  const manifestJson = assembleManifest(format, config, layers, spec.layers, spec.annotations);
  return {
    kind: 'image',
    format,
    platform,
    manifest: jsonBlob(manifestMediaType(format), manifestJson),
    config,
    layers,
    extraBlobs: [],
    manifestJson,
    configJson,
  };
}

/** Builds the child images and the index / manifest list over them. */
export function buildIndex(spec: IndexSpec): BuiltIndex {
  const format = spec.format ?? 'oci';
  const images: BuiltImage[] = [];
  const descriptors: Descriptor[] = [];
  for (const entry of spec.manifests) {
    const image = isBuiltImage(entry.image) ? entry.image : buildImage({ format, ...entry.image });
    images.push(image);
    const extra: Partial<Descriptor> = {};
    const platform = entry.platform === undefined ? image.platform : entry.platform;
    if (platform !== null) extra.platform = platform;
    if (entry.annotations !== undefined) extra.annotations = entry.annotations;
    descriptors.push(descriptorOf(image.manifest, extra));
  }
  const indexJson: IndexJson = { schemaVersion: 2, mediaType: indexMediaType(format), manifests: descriptors };
  if (spec.annotations !== undefined && format === 'oci') indexJson.annotations = spec.annotations;
  return { kind: 'index', format, index: jsonBlob(indexMediaType(format), indexJson), indexJson, images };
}

function isBuiltImage(value: ImageSpec | BuiltImage): value is BuiltImage {
  return (value as BuiltImage).kind === 'image';
}

function isBuiltIndex(value: IndexSpec | BuiltIndex): value is BuiltIndex {
  return (value as BuiltIndex).kind === 'index';
}

// ---------------------------------------------------------------------------
// Tampering with built images (negative tests)

/** A copy of the image whose manifest JSON went through `mutate` (re-serialised, new digest). */
export function rebuildManifest(image: BuiltImage, mutate: (manifest: ManifestJson) => void): BuiltImage {
  const manifestJson = structuredClone(image.manifestJson);
  mutate(manifestJson);
  return { ...image, manifestJson, manifest: jsonBlob(image.manifest.mediaType, manifestJson) };
}

/** A copy of the image whose config JSON went through `mutate`; the manifest points at the new config. */
export function rebuildConfig(image: BuiltImage, mutate: (config: Record<string, unknown>) => void): BuiltImage {
  const configJson = structuredClone(image.configJson);
  mutate(configJson);
  const config = jsonBlob(image.config.mediaType, configJson);
  const next = rebuildManifest(image, (manifest) => {
    manifest.config = { ...manifest.config, digest: config.digest, size: config.size };
  });
  return { ...next, config, configJson };
}

/** The layer's descriptor announces `size` bytes (default: one more than the blob has). */
export function withWrongLayerSize(image: BuiltImage, index: number, size?: number): BuiltImage {
  const layer = mustLayer(image, index);
  return rebuildManifest(image, (manifest) => {
    (manifest.layers[index] as Descriptor).size = size ?? layer.size + 1;
  });
}

/**
 * The layer's descriptor names another blob: a decoy of random bytes of the
 * same size, pushed under its real digest. The registry serves it correctly,
 * so the digest matches the descriptor, but the content is no valid layer and
 * does not match the config's diff_id.
 */
export function withWrongLayerDigest(image: BuiltImage, index: number): BuiltImage {
  const layer = mustLayer(image, index);
  const decoy = makeBlob('application/octet-stream', randomBytes(layer.size));
  const next = rebuildManifest(image, (manifest) => {
    (manifest.layers[index] as Descriptor).digest = decoy.digest;
  });
  return { ...next, extraBlobs: [...next.extraBlobs, decoy] };
}

/** The config's rootfs.diff_ids[index] is wrong (default: sha256 of "wrong"); the layer itself is fine. */
export function withWrongDiffId(image: BuiltImage, index: number, diffId = sha256('wrong')): BuiltImage {
  mustLayer(image, index);
  return rebuildConfig(image, (config) => {
    const rootfs = config.rootfs as { diff_ids: string[] };
    rootfs.diff_ids[index] = diffId;
  });
}

/** The config descriptor announces a wrong size (default: one more byte). */
export function withWrongConfigSize(image: BuiltImage, size?: number): BuiltImage {
  return rebuildManifest(image, (manifest) => {
    manifest.config.size = size ?? image.config.size + 1;
  });
}

function mustLayer(image: BuiltImage, index: number): BuiltLayer {
  const layer = image.layers[index];
  if (layer === undefined) throw new Error(`image has no layer ${index}`);
  return layer;
}

/**
 * Entries that try to leave the rootfs: parent references, absolute paths,
 * symlinks and hardlinks pointing out, and writes through a symlink.
 * A safe unpacker must keep everything inside (or refuse the layer).
 */
export function pathTraversalEntries(): TarEntry[] {
  return [
    { type: 'file', name: '../evil-parent', content: 'escaped via ..\n' },
    { type: 'file', name: '../../../../../../tmp/berth-evil-deep', content: 'escaped via many ..\n' },
    { type: 'file', name: '/evil-absolute', content: 'escaped via absolute path\n' },
    { type: 'file', name: 'ok/../../evil-inner', content: 'escaped via inner ..\n' },
    { type: 'symlink', name: 'link-out', linkname: '../../../../../../../' },
    { type: 'file', name: 'link-out/tmp/berth-evil-through-symlink', content: 'escaped via symlink\n' },
    { type: 'symlink', name: 'abs-link', linkname: '/tmp' },
    { type: 'file', name: 'abs-link/berth-evil-through-abs-symlink', content: 'escaped via absolute symlink\n' },
    { type: 'hardlink', name: 'hardlink-out', linkname: '../../../../../../../etc/passwd' },
    { type: 'hardlink', name: 'hardlink-abs', linkname: '/etc/hostname' },
  ];
}

/** A layer made of pathTraversalEntries() (plus one innocent file first). */
export function pathTraversalLayer(compression: Compression = 'gzip'): LayerSpec {
  return {
    compression,
    entries: [{ type: 'dir', name: 'ok/' }, { type: 'file', name: 'ok/innocent', content: 'fine\n' }, ...pathTraversalEntries()],
  };
}

// ---------------------------------------------------------------------------
// Ready-made images

export interface FixtureImageOptions {
  format?: ManifestFormat;
  platform?: Platform;
  compression?: Compression;
  /** Merged over the fixture's run config. */
  config?: ImageRunConfig;
}

function platformString(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant !== undefined ? `/${platform.variant}` : ''}`;
}

/**
 * A one-layer image without executables: /etc/berth-platform says the
 * platform ("linux/amd64\n") and `files` are added as regular files.
 */
export function tinyImage(opts: FixtureImageOptions & { files?: Record<string, string> } = {}): ImageSpec {
  const platform = opts.platform ?? { architecture: 'amd64', os: 'linux' };
  const entries: TarEntry[] = [
    { type: 'dir', name: 'etc/' },
    { type: 'file', name: 'etc/berth-platform', content: `${platformString(platform)}\n` },
  ];
  for (const [name, content] of Object.entries(opts.files ?? {})) entries.push({ type: 'file', name, content });
  return {
    format: opts.format,
    platform,
    compression: opts.compression,
    config: { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/true'], ...opts.config },
    layers: [{ entries }],
  };
}

const BUSYBOX_PATH = '/bin/busybox';
const HARDLINK_APPLETS = [
  'sh',
  'ash',
  'ls',
  'cat',
  'echo',
  'sleep',
  'true',
  'false',
  'env',
  'id',
  'ps',
  'mkdir',
  'rm',
  'cp',
  'mv',
  'touch',
  'date',
  'hostname',
  'grep',
  'sed',
  'wc',
  'head',
  'tail',
  'ln',
  'chmod',
  'chown',
  'test',
  '[',
  'printf',
  'pwd',
  'kill',
  'uname',
  'whoami',
  'stat',
  'readlink',
  'mount',
  'df',
  'du',
  'sync',
  'sha256sum',
  'top',
  'nc',
  'wget',
  'ping',
  'ip',
  'nslookup',
  'cut',
  'tr',
  'sort',
  'find',
  'xargs',
  'dd',
  'tee',
  'yes',
  'seq',
  'timeout',
];
const SYMLINK_APPLETS = ['usr/bin/env', 'usr/bin/awk', 'usr/bin/which', 'sbin/ifconfig', 'usr/sbin/httpd'];

let busyboxBytes: Buffer | undefined;

function readBusybox(): Buffer {
  if (busyboxBytes === undefined) {
    if (!existsSync(BUSYBOX_PATH)) throw new Error(`${BUSYBOX_PATH} is missing (run scripts/install-test-deps.sh: busybox-static)`);
    busyboxBytes = readFileSync(BUSYBOX_PATH);
  }
  return busyboxBytes;
}

/**
 * A small real image (about 1 MB compressed) around the host's static busybox:
 *
 * - layer 1: the usual top-level dirs (tmp 1777, root 0700), /bin/busybox with
 *   hard-linked applets in /bin (sh, ls, cat, sleep, …) and symlinked ones
 *   (/usr/bin/env -> /bin/busybox, …), /etc/passwd (root, nobody, app 1000),
 *   /etc/group, /home/app owned by 1000:1000, /etc/to-be-removed, and
 *   /opt/replaced/{a,b}.
 * - layer 2: /etc/motd, /usr/share/berth/hello.txt, /app/run.sh (0755), and
 *   /etc/berth-release overwritten ("layer 2").
 * - layer 3: a whiteout of /etc/to-be-removed, an opaque /opt/replaced with a
 *   new file c (so a and b are gone), /etc/berth-platform ("linux/amd64\n").
 *
 * Config: Env PATH and BERTH_FIXTURE=busybox, Cmd ["sh"], WorkingDir "/",
 * ExposedPorts 8080/tcp, a label, StopSignal SIGTERM. The platform only
 * changes the marker file and the config (the binary stays the host's).
 */
export function busyboxLikeImage(opts: FixtureImageOptions = {}): ImageSpec {
  const platform = opts.platform ?? { architecture: 'amd64', os: 'linux' };
  const mtime = 1_704_067_200; // 2024-01-01
  const dir = (name: string, mode = 0o755, uid = 0, gid = 0): TarEntry => ({ type: 'dir', name, mode, uid, gid, mtime });
  const file = (name: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0): TarEntry => ({
    type: 'file',
    name,
    content,
    mode,
    uid,
    gid,
    mtime,
  });

  const layer1: TarEntry[] = [
    dir('bin/'),
    dir('dev/'),
    dir('etc/'),
    dir('home/'),
    dir('home/app/', 0o755, 1000, 1000),
    dir('opt/'),
    dir('opt/replaced/'),
    dir('proc/'),
    dir('root/', 0o700),
    dir('sbin/'),
    dir('sys/'),
    dir('tmp/', 0o1777),
    dir('usr/'),
    dir('usr/bin/'),
    dir('usr/sbin/'),
    dir('var/'),
    dir('var/log/'),
    file('bin/busybox', readBusybox(), 0o755),
    ...HARDLINK_APPLETS.map(
      (applet): TarEntry => ({ type: 'hardlink', name: `bin/${applet}`, linkname: 'bin/busybox', mode: 0o755, mtime }),
    ),
    ...SYMLINK_APPLETS.map((name): TarEntry => ({ type: 'symlink', name, linkname: '/bin/busybox', mtime })),
    file(
      'etc/passwd',
      'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    ),
    file('etc/group', 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n'),
    file('etc/berth-release', 'layer 1\n'),
    file('etc/to-be-removed', 'this file is whited out by layer 3\n'),
    file('opt/replaced/a', 'a from layer 1\n'),
    file('opt/replaced/b', 'b from layer 1\n'),
  ];
  const layer2: TarEntry[] = [
    file('etc/motd', 'berth test image\n'),
    file('etc/berth-release', 'layer 2\n'),
    dir('usr/share/'),
    dir('usr/share/berth/'),
    file('usr/share/berth/hello.txt', 'hello from layer 2\n'),
    dir('app/'),
    file('app/run.sh', '#!/bin/sh\necho "hello from berth"\n', 0o755),
  ];
  const layer3: TarEntry[] = [
    file('etc/.wh.to-be-removed', ''),
    file('opt/replaced/.wh..wh..opq', ''),
    file('opt/replaced/c', 'c from layer 3\n'),
    file('etc/berth-platform', `${platformString(platform)}\n`),
  ];
  return {
    format: opts.format,
    platform,
    compression: opts.compression,
    config: {
      Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'BERTH_FIXTURE=busybox'],
      Cmd: ['sh'],
      WorkingDir: '/',
      ExposedPorts: { '8080/tcp': {} },
      Labels: { 'org.berth.fixture': 'busybox' },
      StopSignal: 'SIGTERM',
      ...opts.config,
    },
    layers: [{ entries: layer1 }, { entries: layer2 }, { entries: layer3 }],
    history: [
      { created: DEFAULT_CREATED, created_by: 'busybox and applets' },
      { created: DEFAULT_CREATED, created_by: 'add files' },
      { created: DEFAULT_CREATED, created_by: 'whiteout and opaque dir' },
    ],
  };
}

// ---------------------------------------------------------------------------
// Pushing with the distribution API

export type { Credentials };

/** A registry: its base URL (`http://127.0.0.1:PORT`) or an object with url and optional auth (a TestRegistry fits). */
export type RegistryTarget = string | { url: string; auth?: Credentials | undefined };

export interface PushOptions {
  /** Overrides the target's credentials; null pushes without any. */
  auth?: Credentials | null;
  signal?: AbortSignal;
}

export interface PushResult {
  /** `HOST:PORT/name:tag` (or `@digest`), ready for a pull. */
  reference: string;
  repository: string;
  manifestDigest: string;
  mediaType: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
  /** manifest + config + compressed layers, in bytes. */
  totalSize: number;
  image: BuiltImage;
}

export interface IndexPushResult {
  reference: string;
  repository: string;
  /** Digest of the index / manifest list. */
  manifestDigest: string;
  mediaType: string;
  /** index + every child's totalSize. */
  totalSize: number;
  /** One per child, in index order. */
  images: PushResult[];
  index: BuiltIndex;
}

interface Target {
  base: string;
  host: string;
  auth: Credentials | undefined;
}

function resolveTarget(target: RegistryTarget, opts: PushOptions): Target {
  const url = typeof target === 'string' ? target : target.url;
  const base = url.replace(/\/+$/, '');
  const auth = opts.auth === null ? undefined : (opts.auth ?? (typeof target === 'string' ? undefined : target.auth));
  return { base, host: new URL(base).host, auth };
}

/** Splits `name:tag`, `name@sha256:…` or `name` (tag latest); a leading `HOST/` of the registry is dropped. */
export function parseRepoReference(ref: string, host?: string): { repository: string; reference: string } {
  let rest = ref;
  if (host !== undefined && rest.startsWith(`${host}/`)) rest = rest.slice(host.length + 1);
  const at = rest.indexOf('@');
  if (at >= 0) return { repository: rest.slice(0, at), reference: rest.slice(at + 1) };
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { repository: rest.slice(0, colon), reference: rest.slice(colon + 1) };
  return { repository: rest, reference: 'latest' };
}

function authHeader(auth: Credentials | undefined): Record<string, string> {
  if (auth === undefined) return {};
  return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

async function expectStatus(res: Response, expected: number[], what: string): Promise<void> {
  if (expected.includes(res.status)) return;
  const body = await res.text().catch(() => '');
  throw new Error(`${what}: HTTP ${res.status} ${res.statusText} ${body.slice(0, 500)}`);
}

function refSeparator(reference: string): string {
  return reference.includes(':') ? '@' : ':';
}

/**
 * Uploads a blob (monolithic: POST an upload, PUT ?digest=) unless the registry
 * has it. `claimedDigest` sends another digest than the content's (the registry
 * should answer 400 DIGEST_INVALID).
 */
export async function pushBlob(
  target: RegistryTarget,
  repository: string,
  blob: Blob | Uint8Array,
  opts: PushOptions & { claimedDigest?: string; force?: boolean } = {},
): Promise<string> {
  const t = resolveTarget(target, opts);
  const bytes = blob instanceof Uint8Array ? Buffer.from(blob) : blob.bytes;
  const digest = opts.claimedDigest ?? sha256(bytes);
  const headers = authHeader(t.auth);
  if (!opts.force && opts.claimedDigest === undefined) {
    const head = await fetch(`${t.base}/v2/${repository}/blobs/${digest}`, { method: 'HEAD', headers, signal: opts.signal });
    if (head.status === 200) return digest;
  }
  const start = await fetch(`${t.base}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers, signal: opts.signal });
  await expectStatus(start, [202], `start upload to ${repository}`);
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (location === null) throw new Error(`start upload to ${repository}: no Location header`);
  const uploadUrl = new URL(location, `${t.base}/`);
  uploadUrl.searchParams.set('digest', digest);
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
    body: bytes,
    signal: opts.signal,
  });
  await expectStatus(put, [201], `upload blob ${digest} to ${repository}`);
  await put.arrayBuffer();
  return digest;
}

/** PUTs manifest bytes under a tag or digest with the given Content-Type; returns the digest the registry reports. */
export async function pushManifest(
  target: RegistryTarget,
  repository: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
  opts: PushOptions = {},
): Promise<string> {
  const t = resolveTarget(target, opts);
  const res = await fetch(`${t.base}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeader(t.auth), 'Content-Type': mediaType },
    body: Buffer.from(bytes),
    signal: opts.signal,
  });
  await expectStatus(res, [201], `push manifest ${repository}${refSeparator(reference)}${reference}`);
  await res.arrayBuffer();
  return res.headers.get('docker-content-digest') ?? sha256(bytes);
}

/** Pushes layers, extra blobs, config and manifest; the manifest goes under the reference's tag (or digest). */
export async function pushImage(
  target: RegistryTarget,
  ref: string,
  image: ImageSpec | BuiltImage,
  opts: PushOptions = {},
): Promise<PushResult> {
  const t = resolveTarget(target, opts);
  const built = isBuiltImage(image) ? image : buildImage(image);
  const { repository, reference } = parseRepoReference(ref, t.host);
  for (const blob of [...built.layers, ...built.extraBlobs, built.config]) {
    // Foreign layers are not uploaded.
    const descriptor = built.manifestJson.layers.find((l) => l.digest === blob.digest);
    if (descriptor?.urls !== undefined && descriptor.urls.length > 0) continue;
    await pushBlob(target, repository, blob, opts);
  }
  const manifestDigest = await pushManifest(target, repository, reference, built.manifest.bytes, built.manifest.mediaType, opts);
  if (manifestDigest !== built.manifest.digest) {
    throw new Error(`registry reports manifest digest ${manifestDigest}, computed ${built.manifest.digest}`);
  }
  return {
    reference: `${t.host}/${repository}${refSeparator(reference)}${reference}`,
    repository,
    manifestDigest,
    mediaType: built.manifest.mediaType,
    configDigest: built.config.digest,
    layerDigests: built.layers.map((layer) => layer.digest),
    diffIds: built.layers.map((layer) => layer.diffId),
    totalSize: built.manifest.size + built.config.size + built.layers.reduce((sum, layer) => sum + layer.size, 0),
    image: built,
  };
}

/** Pushes every child image by digest, then the index / manifest list under the reference. */
export async function pushIndex(
  target: RegistryTarget,
  ref: string,
  index: IndexSpec | BuiltIndex,
  opts: PushOptions = {},
): Promise<IndexPushResult> {
  const t = resolveTarget(target, opts);
  const built = isBuiltIndex(index) ? index : buildIndex(index);
  const { repository, reference } = parseRepoReference(ref, t.host);
  const images: PushResult[] = [];
  for (const image of built.images) {
    images.push(await pushImage(target, `${repository}@${image.manifest.digest}`, image, opts));
  }
  const manifestDigest = await pushManifest(target, repository, reference, built.index.bytes, built.index.mediaType, opts);
  return {
    reference: `${t.host}/${repository}${refSeparator(reference)}${reference}`,
    repository,
    manifestDigest,
    mediaType: built.index.mediaType,
    totalSize: built.index.size + images.reduce((sum, image) => sum + image.totalSize, 0),
    images,
    index: built,
  };
}

/** Deletes a blob from a repository (the registry runs with delete enabled): later GETs answer 404. */
export async function deleteBlob(target: RegistryTarget, repository: string, digest: string, opts: PushOptions = {}): Promise<void> {
  const t = resolveTarget(target, opts);
  const res = await fetch(`${t.base}/v2/${repository}/blobs/${digest}`, {
    method: 'DELETE',
    headers: authHeader(t.auth),
    signal: opts.signal,
  });
  await expectStatus(res, [202], `delete blob ${digest} from ${repository}`);
  await res.arrayBuffer();
}

/** Deletes a manifest by digest (tags pointing at it go with it). */
export async function deleteManifest(target: RegistryTarget, repository: string, digest: string, opts: PushOptions = {}): Promise<void> {
  const t = resolveTarget(target, opts);
  const res = await fetch(`${t.base}/v2/${repository}/manifests/${digest}`, {
    method: 'DELETE',
    headers: authHeader(t.auth),
    signal: opts.signal,
  });
  await expectStatus(res, [202], `delete manifest ${digest} from ${repository}`);
  await res.arrayBuffer();
}
