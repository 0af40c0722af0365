// The OCI image format (manifest, index, config) and its Docker schema 2 equivalents, with
// validating parsers. Docker's schema 2 manifest and manifest list have the same shape as the
// OCI manifest and index, so one set of types covers both; `mediaType` tells them apart.

import type { BerthError } from '../errors/errors.ts';
import { invalidArgument, unimplemented } from '../errors/errors.ts';
import type { Digest } from './digest.ts';
import { isDigest } from './digest.ts';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1SignedManifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** Media types of image manifests (one platform). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];
/** Media types of indexes (several platforms). */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];
/** Docker schema 1: not supported (as in containerd 2). */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MediaType.dockerSchema1Manifest, MediaType.dockerSchema1SignedManifest];
/** What a client puts in `Accept` when it asks a registry for a manifest, preferred first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
];
export const CONFIG_MEDIA_TYPES: readonly string[] = [MediaType.ociConfig, MediaType.dockerConfig];

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt !== undefined && MANIFEST_MEDIA_TYPES.includes(mt);
}
export function isIndexMediaType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_MEDIA_TYPES.includes(mt);
}
export function isSchema1MediaType(mt: string | undefined): boolean {
  return mt !== undefined && SCHEMA1_MEDIA_TYPES.includes(mt);
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** How a layer blob of this media type is compressed, or undefined if it is not a layer type. */
export function layerCompression(mt: string): LayerCompression | undefined {
  switch (mt) {
    case MediaType.ociLayer:
    case MediaType.ociLayerNondistributable:
    case MediaType.dockerLayer:
      return 'none';
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNondistributableGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayerGzip:
      return 'gzip';
    case MediaType.ociLayerZstd:
    case MediaType.ociLayerNondistributableZstd:
    case MediaType.dockerLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/** Platform as the image spec writes it in JSON (index entries, configs). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

/** OCI image manifest, or Docker schema 2 manifest. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** OCI image index, or Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: unknown;
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** OCI image configuration (the Docker config is a superset; extra fields are kept). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ImageRuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

export type ManifestOrIndex =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

// ---------------------------------------------------------------------------------------------
// Parsing

type Json = Record<string, unknown>;

function bad(what: string, why: string, fields: Record<string, unknown> = {}): BerthError {
  return invalidArgument('bad-manifest', `invalid ${what}: ${why}`, { fields });
}

function schema1(): BerthError {
  return unimplemented(
    'schema1-unsupported',
    'Docker image manifest v2 schema 1 is not supported (deprecated format); push the image again as Docker schema 2 or OCI',
  );
}

function decodeJson(bytes: Uint8Array | string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw invalidArgument('bad-manifest', `invalid ${what}: not JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isObject(value)) throw bad(what, 'not a JSON object');
  return value;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Json, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(what, `"${key}" must be a string`);
  return v;
}

function optStringArray(o: Json, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(what, `"${key}" must be an array of strings`);
  return v as string[];
}

function optStringMap(o: Json, key: string, what: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw bad(what, `"${key}" must be a map of strings`);
  }
  return v as Record<string, string>;
}

function checkSchemaVersion(o: Json, what: string): void {
  if (o.schemaVersion === 1) throw schema1();
  if (o.schemaVersion !== 2) throw bad(what, `schemaVersion must be 2, got ${JSON.stringify(o.schemaVersion)}`);
}

/** Validates a platform object (index entries). */
export function validatePlatform(v: unknown, what = 'platform'): Platform {
  if (!isObject(v)) throw bad(what, 'platform must be an object');
  if (typeof v.architecture !== 'string' || v.architecture === '') throw bad(what, 'platform.architecture is required');
  if (typeof v.os !== 'string' || v.os === '') throw bad(what, 'platform.os is required');
  const p: Platform = { architecture: v.architecture, os: v.os };
  const osVersion = optString(v, 'os.version', what);
  if (osVersion !== undefined) p['os.version'] = osVersion;
  const osFeatures = optStringArray(v, 'os.features', what);
  if (osFeatures !== undefined) p['os.features'] = osFeatures;
  const variant = optString(v, 'variant', what);
  if (variant !== undefined && variant !== '') p.variant = variant;
  const features = optStringArray(v, 'features', what);
  if (features !== undefined) p.features = features;
  return p;
}

/** Validates a descriptor object: mediaType, digest and size are required. */
export function validateDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  if (!isObject(v)) throw bad(what, 'must be an object');
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw bad(what, '"mediaType" is required');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) {
    throw bad(what, `"digest" must be a sha256 or sha512 digest, got ${JSON.stringify(v.digest)}`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw bad(what, `"size" must be a non-negative integer, got ${JSON.stringify(v.size)}`);
  }
  const d: Descriptor = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  const urls = optStringArray(v, 'urls', what);
  if (urls !== undefined) d.urls = urls;
  const annotations = optStringMap(v, 'annotations', what);
  if (annotations !== undefined) d.annotations = annotations;
  const data = optString(v, 'data', what);
  if (data !== undefined) d.data = data;
  if (v.platform !== undefined && v.platform !== null) d.platform = validatePlatform(v.platform, what);
  const artifactType = optString(v, 'artifactType', what);
  if (artifactType !== undefined) d.artifactType = artifactType;
  return d;
}

function descriptorList(o: Json, key: string, what: string): Descriptor[] {
  const v = o[key];
  if (v === null && key === 'layers') return [];
  if (!Array.isArray(v)) throw bad(what, `"${key}" must be an array`);
  return v.map((x, i) => validateDescriptor(x, `${what} ${key}[${i}]`));
}

/**
 * Guesses the media type of a manifest body when the registry's Content-Type does not say it
 * (missing, `application/json`, `text/plain`, …): the `mediaType` field, else the shape.
 */
export function detectManifestMediaType(bytes: Uint8Array | string, declared?: string): string {
  const mt = declared?.split(';')[0]?.trim().toLowerCase();
  if (mt !== undefined && (isManifestMediaType(mt) || isIndexMediaType(mt) || isSchema1MediaType(mt))) return mt;
  const o = decodeJson(bytes, 'manifest');
  if (typeof o.mediaType === 'string' && o.mediaType !== '') return o.mediaType;
  if (o.schemaVersion === 1) return MediaType.dockerSchema1Manifest;
  if (Array.isArray(o.manifests)) return MediaType.ociIndex;
  if (isObject(o.config) || Array.isArray(o.layers)) return MediaType.ociManifest;
  throw bad('manifest', 'cannot tell whether this is a manifest or an index');
}

function checkBodyMediaType(o: Json, mediaType: string, what: string): void {
  const inBody = o.mediaType;
  if (inBody === undefined || inBody === '') return;
  if (typeof inBody !== 'string') throw bad(what, '"mediaType" must be a string');
  if (isSchema1MediaType(inBody)) throw schema1();
  if (inBody !== mediaType) {
    throw bad(what, `the body says mediaType "${inBody}" but it was served as "${mediaType}"`, {
      mediaType,
      bodyMediaType: inBody,
    });
  }
}

/**
 * Parses an image manifest (OCI or Docker schema 2). `mediaType` is what the registry or the
 * referring descriptor said; the body must agree. Throws invalid-argument `bad-manifest`;
 * unimplemented `schema1-unsupported` for Docker schema 1.
 */
export function parseManifest(bytes: Uint8Array | string, mediaType: string = MediaType.ociManifest): ImageManifest {
  if (isSchema1MediaType(mediaType)) throw schema1();
  if (isIndexMediaType(mediaType)) throw bad('manifest', `"${mediaType}" is an index, not a manifest`);
  if (!isManifestMediaType(mediaType)) throw bad('manifest', `unsupported manifest media type "${mediaType}"`);
  const what = 'manifest';
  const o = decodeJson(bytes, what);
  checkSchemaVersion(o, what);
  checkBodyMediaType(o, mediaType, what);
  if (Array.isArray(o.manifests)) throw bad(what, 'has "manifests": this is an index');
  const m: ImageManifest = {
    schemaVersion: 2,
    config: validateDescriptor(o.config, `${what} config`),
    layers: descriptorList(o, 'layers', what),
  };
  if (typeof o.mediaType === 'string' && o.mediaType !== '') m.mediaType = o.mediaType;
  const artifactType = optString(o, 'artifactType', what);
  if (artifactType !== undefined) m.artifactType = artifactType;
  if (o.subject !== undefined && o.subject !== null) m.subject = validateDescriptor(o.subject, `${what} subject`);
  const annotations = optStringMap(o, 'annotations', what);
  if (annotations !== undefined) m.annotations = annotations;
  return m;
}

/** Parses an image index (OCI) or manifest list (Docker). Same errors as parseManifest. */
export function parseIndex(bytes: Uint8Array | string, mediaType: string = MediaType.ociIndex): ImageIndex {
  if (isSchema1MediaType(mediaType)) throw schema1();
  if (isManifestMediaType(mediaType)) throw bad('index', `"${mediaType}" is a manifest, not an index`);
  if (!isIndexMediaType(mediaType)) throw bad('index', `unsupported index media type "${mediaType}"`);
  const what = 'index';
  const o = decodeJson(bytes, what);
  checkSchemaVersion(o, what);
  checkBodyMediaType(o, mediaType, what);
  if (o.config !== undefined || o.layers !== undefined) {
    if (!Array.isArray(o.manifests)) throw bad(what, 'has "config"/"layers": this is a manifest');
  }
  const idx: ImageIndex = { schemaVersion: 2, manifests: descriptorList(o, 'manifests', what) };
  if (typeof o.mediaType === 'string' && o.mediaType !== '') idx.mediaType = o.mediaType;
  const artifactType = optString(o, 'artifactType', what);
  if (artifactType !== undefined) idx.artifactType = artifactType;
  if (o.subject !== undefined && o.subject !== null) idx.subject = validateDescriptor(o.subject, `${what} subject`);
  const annotations = optStringMap(o, 'annotations', what);
  if (annotations !== undefined) idx.annotations = annotations;
  return idx;
}

/** Parses either kind, deciding by `mediaType` (or by the body when `mediaType` is not specific). */
export function parseManifestOrIndex(bytes: Uint8Array | string, mediaType?: string): ManifestOrIndex {
  const mt = detectManifestMediaType(bytes, mediaType);
  if (isSchema1MediaType(mt)) throw schema1();
  if (isIndexMediaType(mt)) return { kind: 'index', mediaType: mt, index: parseIndex(bytes, mt) };
  if (isManifestMediaType(mt)) return { kind: 'manifest', mediaType: mt, manifest: parseManifest(bytes, mt) };
  throw bad('manifest', `unsupported manifest media type "${mt}"`, { mediaType: mt });
}

/** Parses an image configuration blob (OCI or Docker). */
export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  const what = 'image config';
  const o = decodeJson(bytes, what);
  if (typeof o.architecture !== 'string' || o.architecture === '') throw bad(what, '"architecture" is required');
  if (typeof o.os !== 'string' || o.os === '') throw bad(what, '"os" is required');
  const rootfs = o.rootfs;
  if (!isObject(rootfs)) throw bad(what, '"rootfs" is required');
  if (rootfs.type !== 'layers') throw bad(what, `rootfs.type must be "layers", got ${JSON.stringify(rootfs.type)}`);
  const diffIds = rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !isDigest(d))) {
    throw bad(what, 'rootfs.diff_ids must be an array of digests');
  }
  rootfs.diff_ids = diffIds;
  optString(o, 'created', what);
  optString(o, 'author', what);
  optString(o, 'variant', what);
  if (o.config !== undefined && o.config !== null) {
    const c = o.config;
    if (!isObject(c)) throw bad(what, '"config" must be an object');
    optString(c, 'User', what);
    optString(c, 'WorkingDir', what);
    optString(c, 'StopSignal', what);
    optStringArray(c, 'Env', what);
    optStringArray(c, 'Entrypoint', what);
    optStringArray(c, 'Cmd', what);
    optStringMap(c, 'Labels', what);
    for (const key of ['ExposedPorts', 'Volumes']) {
      if (c[key] !== undefined && c[key] !== null && !isObject(c[key])) throw bad(what, `config.${key} must be an object`);
    }
  }
  if (o.history !== undefined && o.history !== null && !Array.isArray(o.history)) {
    throw bad(what, '"history" must be an array');
  }
  return o as ImageConfig;
}
