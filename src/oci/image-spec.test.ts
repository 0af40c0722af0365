import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import {
  detectManifestMediaType,
  layerCompression,
  MediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  parseManifestOrIndex,
  validateDescriptor,
} from './image-spec.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: D1, size: 10 },
  layers: [{ mediaType: MediaType.ociLayerGzip, digest: D2, size: 20, annotations: { a: 'b' } }],
  annotations: { 'org.opencontainers.image.ref.name': 'x' },
};
const index = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [{ mediaType: MediaType.ociManifest, digest: D1, size: 10, platform: { os: 'linux', architecture: 'amd64' } }],
};
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function badManifest(e: unknown): boolean {
  assert.ok(isBerthError(e, 'invalid-argument'), String(e));
  assert.equal(e.code, 'bad-manifest');
  return true;
}

test('parses an OCI manifest and a Docker schema 2 manifest', () => {
  const m = parseManifest(json(manifest), MediaType.ociManifest);
  assert.equal(m.config.digest, D1);
  assert.equal(m.layers[0]!.annotations!.a, 'b');
  const docker = { ...manifest, mediaType: MediaType.dockerManifest };
  assert.equal(parseManifest(json(docker), MediaType.dockerManifest).mediaType, MediaType.dockerManifest);
  // no mediaType in the body is allowed (older OCI manifests)
  const { mediaType: _omit, ...bare } = manifest;
  assert.equal(parseManifest(JSON.stringify(bare)).layers.length, 1);
});

test('parses an index and a manifest list', () => {
  const i = parseIndex(json(index), MediaType.ociIndex);
  assert.deepEqual(i.manifests[0]!.platform, { os: 'linux', architecture: 'amd64' });
  const list = { ...index, mediaType: MediaType.dockerManifestList };
  assert.equal(parseIndex(json(list), MediaType.dockerManifestList).manifests.length, 1);
});

test('parseManifestOrIndex decides by media type or shape', () => {
  assert.equal(parseManifestOrIndex(json(index)).kind, 'index');
  assert.equal(parseManifestOrIndex(json(manifest), 'application/json').kind, 'manifest');
  assert.equal(parseManifestOrIndex(json(manifest), `${MediaType.ociManifest}; charset=utf-8`).kind, 'manifest');
  const { mediaType: _m, ...bareIndex } = index;
  assert.equal(detectManifestMediaType(json(bareIndex)), MediaType.ociIndex);
  const { mediaType: _n, ...bareManifest } = manifest;
  assert.equal(detectManifestMediaType(json(bareManifest), 'text/plain'), MediaType.ociManifest);
});

test('rejects malformed manifests with bad-manifest', () => {
  const cases: Array<[unknown, string]> = [
    ['{not json', MediaType.ociManifest],
    [[1, 2], MediaType.ociManifest],
    [{ ...manifest, schemaVersion: 3 }, MediaType.ociManifest],
    [{ ...manifest, config: undefined }, MediaType.ociManifest],
    [{ ...manifest, layers: 'x' }, MediaType.ociManifest],
    [{ ...manifest, config: { ...manifest.config, digest: 'sha256:short' } }, MediaType.ociManifest],
    [{ ...manifest, config: { ...manifest.config, size: -1 } }, MediaType.ociManifest],
    [{ ...manifest, config: { ...manifest.config, size: 1.5 } }, MediaType.ociManifest],
    [{ ...manifest, config: { ...manifest.config, mediaType: undefined } }, MediaType.ociManifest],
    [{ ...manifest, annotations: { a: 1 } }, MediaType.ociManifest],
    [manifest, MediaType.dockerManifest], // body says OCI, served as Docker
    [manifest, MediaType.ociIndex], // a manifest parsed as an index
    [index, MediaType.ociManifest],
    [manifest, 'application/vnd.example+json'],
    [{ ...index, manifests: [{ mediaType: 'x', digest: D1, size: 1, platform: { os: 'linux' } }] }, MediaType.ociIndex],
  ];
  for (const [body, mt] of cases) {
    const bytes = typeof body === 'string' ? body : JSON.stringify(body);
    assert.throws(() => (INDEXES.has(mt) ? parseIndex(bytes, mt) : parseManifest(bytes, mt)), badManifest, bytes);
  }
  assert.throws(() => parseManifest(new Uint8Array([0xff, 0xfe]), MediaType.ociManifest), badManifest);
  assert.throws(() => detectManifestMediaType('{}'), badManifest);
});
const INDEXES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

test('rejects Docker schema 1 as unimplemented', () => {
  const s1 = { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] };
  const isSchema1 = (e: unknown) => isBerthError(e, 'unimplemented') && e.code === 'schema1-unsupported';
  assert.throws(() => parseManifest(json(s1), MediaType.dockerSchema1SignedManifest), isSchema1);
  assert.throws(() => parseManifest(json(s1), MediaType.dockerManifest), isSchema1);
  assert.throws(() => parseManifestOrIndex(json(s1)), isSchema1);
  assert.throws(() => parseManifestOrIndex(json(s1), 'application/json'), isSchema1);
});

test('parses image configs', () => {
  const cfg = parseImageConfig(
    json({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: null, ExposedPorts: { '80/tcp': {} } },
      rootfs: { type: 'layers', diff_ids: [D1] },
      history: [{ created_by: 'x' }],
      container_config: {},
    }),
  );
  assert.deepEqual(cfg.rootfs.diff_ids, [D1]);
  assert.deepEqual(cfg.config?.Cmd, ['sh']);
  const noDiffs = parseImageConfig(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }));
  assert.deepEqual(noDiffs.rootfs.diff_ids, []);
  for (const bad of [
    {},
    { architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } },
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'x', diff_ids: [] } },
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['nope'] } },
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: 'x' } },
  ]) {
    assert.throws(() => parseImageConfig(JSON.stringify(bad)), badManifest, JSON.stringify(bad));
  }
});

test('descriptors and layer compression', () => {
  assert.throws(() => validateDescriptor(null), badManifest);
  const d = validateDescriptor({ mediaType: 'x', digest: D1, size: 0, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  assert.equal(d.platform?.variant, 'v8');
  assert.equal(layerCompression(MediaType.ociLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.dockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.ociLayerZstd), 'zstd');
  assert.equal(layerCompression(MediaType.ociLayer), 'none');
  assert.equal(layerCompression(MediaType.ociConfig), undefined);
});
