// importArchive against a real FileContentStore, OverlaySnapshotter and ImageStore in a temp dir,
// with archives built here: OCI layouts, docker save (old and new shapes), compressed, hostile.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import {
  type Blob,
  type BuiltImage,
  type BuiltIndex,
  buildImage,
  buildIndex,
  makeBlob,
  rebuildConfig,
  sha256,
  tinyImage,
  withWrongLayerSize,
} from '../../test/support/image-builder.ts';
import { type TarEntry, writeTar } from '../../test/support/tar-writer.ts';
import { makeTempDir } from '../../test/support/tmp.ts';
import { FileContentStore } from '../content/file-content-store.ts';
import { isBerthError } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';
import { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.ts';
import { MetadataStore } from '../store/metadata-store.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import { silentLogger } from '../util/logger.ts';
import { Leases } from '../util/semaphore.ts';
import { type ImportDeps, type ImportEvent, type ImportOptions, importArchive } from './image-import.ts';
import { type ImageRecord, ImageStore } from './image-store.ts';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface Env {
  dir: string;
  deps: ImportDeps;
  content: FileContentStore;
  snapshotter: OverlaySnapshotter;
  images: ImageStore;
  write(name: string, bytes: Buffer): Promise<string>;
  import(file: string, options?: ImportOptions): Promise<{ records: ImageRecord[]; events: ImportEvent[] }>;
  /** A file of the image's rootfs, through a read-only view of its top snapshot. */
  readFromImage(record: ImageRecord, file: string): Promise<string>;
}

async function withEnv(body: (env: Env) => Promise<void>): Promise<void> {
  const tmp = await makeTempDir('berth-import-');
  const meta = new MetadataStore(path.join(tmp.path, 'metadata.db'));
  try {
    const content = new FileContentStore(path.join(tmp.path, 'content'));
    const snapshotter = await OverlaySnapshotter.open(path.join(tmp.path, 'snapshots'));
    const images = new ImageStore(meta);
    const deps: ImportDeps = {
      content,
      snapshotter,
      images,
      platform: AMD64,
      unpackLock: new KeyedLock(),
      gcLock: new KeyedLock(),
      leases: { blobs: new Leases(), snapshots: new Leases() },
      logger: silentLogger(),
    };
    let views = 0;
    await body({
      dir: tmp.path,
      deps,
      content,
      snapshotter,
      images,
      async write(name, bytes) {
        const file = path.join(tmp.path, name);
        await writeFile(file, bytes);
        return file;
      },
      async import(file, options = {}) {
        const events: ImportEvent[] = [];
        const records = await importArchive(deps, file, { ...options, onEvent: (e) => events.push(e) });
        return { records, events };
      },
      async readFromImage(record, file) {
        const key = `view-${++views}`;
        const target = path.join(tmp.path, key);
        await mkdir(target);
        const mounts = await snapshotter.view(key, record.chainIds.at(-1));
        await mountAll(mounts, target);
        try {
          return await readFile(path.join(target, file), 'utf8');
        } finally {
          await unmount(target);
          await snapshotter.remove(key);
        }
      },
    });
  } finally {
    meta.close();
    await tmp.remove();
  }
}

/** After a refused import: no image, no snapshot of any kind, no blob, no temp file. */
async function assertNothingLeft(env: Env): Promise<void> {
  assert.deepEqual(env.images.list(), [], 'no image recorded');
  assert.deepEqual(
    (await env.snapshotter.list()).map((s) => `${s.kind} ${s.key}`),
    [],
    'no snapshot (active or committed) left',
  );
  assert.deepEqual(await env.content.list(), [], 'no blob left');
  const ingest = path.join(env.dir, 'content', 'ingest');
  assert.deepEqual(existsSync(ingest) ? await readdir(ingest) : [], [], 'no temp file left');
  assert.deepEqual(env.deps.leases?.blobs.keys(), [], 'no blob lease held');
  assert.deepEqual(env.deps.leases?.snapshots.keys(), [], 'no snapshot lease held');
}

async function expectRefused(env: Env, file: string, code: string, options: ImportOptions = {}): Promise<void> {
  await assert.rejects(env.import(file, options), (e) => {
    assert.ok(isBerthError(e), `a BerthError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Archive builders

function blobMember(blob: { digest: string; bytes: Buffer }): TarEntry {
  const [alg, hex] = blob.digest.split(':') as [string, string];
  return { type: 'file', name: `blobs/${alg}/${hex}`, content: blob.bytes };
}

function imageBlobs(image: BuiltImage): Blob[] {
  return [image.manifest, image.config, ...image.layers];
}

interface LayoutEntry {
  target: BuiltImage | BuiltIndex;
  annotations?: Record<string, string>;
  platform?: typeof AMD64;
}

/** An OCI image layout archive: oci-layout, index.json over `entries`, every blob (or `blobs`). */
function ociLayout(entries: LayoutEntry[], options: { blobs?: Blob[]; extra?: TarEntry[]; omit?: string[] } = {}): Buffer {
  const manifests = entries.map(({ target, annotations, platform }) => {
    const top = target.kind === 'index' ? target.index : target.manifest;
    return {
      mediaType: top.mediaType,
      digest: top.digest,
      size: top.size,
      ...(annotations === undefined ? {} : { annotations }),
      ...(platform === undefined ? {} : { platform }),
    };
  });
  const all = new Map<string, Blob>();
  for (const { target } of entries) {
    const blobs = target.kind === 'index' ? [target.index, ...target.images.flatMap(imageBlobs)] : imageBlobs(target);
    for (const b of blobs) all.set(b.digest, b);
  }
  for (const b of options.blobs ?? []) all.set(b.digest, b);
  for (const d of options.omit ?? []) all.delete(d);
  return writeTar([
    { type: 'file', name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { type: 'dir', name: 'blobs/' },
    { type: 'dir', name: 'blobs/sha256/' },
    ...[...all.values()].map(blobMember),
    ...(options.extra ?? []),
    // index.json last: the importer may not rely on reading it first.
    {
      type: 'file',
      name: 'index.json',
      content: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
    },
  ]);
}

interface SavedImage {
  image: BuiltImage;
  repoTags: string[];
}

/**
 * A `docker save` archive. 'legacy' (Docker < 25): `<id>/layer.tar` (a repeated layer is a symlink
 * `../<first id>/layer.tar`, as Docker writes it), `<config hex>.json`, manifest.json, repositories,
 * in lexical order as Docker's tar has them. 'blobs' (Docker 25+ without the OCI index):
 * `blobs/sha256/<hex>` for configs and layers.
 */
function dockerSave(saved: SavedImage[], style: 'legacy' | 'blobs' = 'legacy', extra: TarEntry[] = []): Buffer {
  const members = new Map<string, TarEntry>();
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const layerIds = new Map<string, string>();
  for (const { image, repoTags } of saved) {
    const configHex = image.config.digest.slice('sha256:'.length);
    let configPath = `${configHex}.json`;
    if (style === 'blobs') configPath = `blobs/sha256/${configHex}`;
    members.set(configPath, { type: 'file', name: configPath, content: image.config.bytes });
    const layers: string[] = [];
    let parent = '';
    for (const layer of image.layers) {
      const diffHex = layer.diffId.slice('sha256:'.length);
      if (style === 'blobs') {
        const p = `blobs/sha256/${diffHex}`;
        members.set(p, { type: 'file', name: p, content: layer.tar });
        layers.push(p);
        continue;
      }
      // v1 layer IDs depend on the parent chain, so a shared layer gets a new directory.
      const id = sha256(`${parent} ${layer.diffId} ${configHex}`).slice('sha256:'.length);
      parent = id;
      const p = `${id}/layer.tar`;
      const first = layerIds.get(layer.diffId);
      if (first === undefined) {
        layerIds.set(layer.diffId, id);
        members.set(p, { type: 'file', name: p, content: layer.tar });
      } else {
        members.set(p, { type: 'symlink', name: p, linkname: `../${first}/layer.tar` });
      }
      members.set(`${id}/VERSION`, { type: 'file', name: `${id}/VERSION`, content: '1.0' });
      members.set(`${id}/json`, { type: 'file', name: `${id}/json`, content: JSON.stringify({ id }) });
      members.set(`${id}/`, { type: 'dir', name: `${id}/` });
      layers.push(p);
    }
    manifest.push({ Config: configPath, RepoTags: repoTags, Layers: layers });
  }
  members.set('manifest.json', { type: 'file', name: 'manifest.json', content: JSON.stringify(manifest) });
  members.set('repositories', { type: 'file', name: 'repositories', content: '{}' });
  const sorted = [...members.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  return writeTar([...sorted, ...extra]);
}

function uncompressedDocker(spec: Parameters<typeof tinyImage>[0] & { second?: string } = {}): BuiltImage {
  const base = tinyImage({ ...spec, format: 'docker', compression: 'none' });
  if (spec.second !== undefined) base.layers.push({ entries: [{ type: 'file', name: 'second.txt', content: spec.second }] });
  return buildImage(base);
}

// ---------------------------------------------------------------------------------------------
// OCI image layouts

test('OCI layout: a full name (containerd annotation) tags it, with the repo digest of the entry', async () => {
  await withEnv(async (env) => {
    const image = buildImage(tinyImage({ files: { 'hello.txt': 'hello from the archive\n' } }));
    const file = await env.write(
      'oci.tar',
      ociLayout([{ target: image, annotations: { [CONTAINERD_NAME]: 'registry.example.test/team/app:1.0', [REF_NAME]: '1.0' } }]),
    );
    const { records, events } = await env.import(file);
    assert.equal(records.length, 1);
    const r = records[0]!;
    assert.equal(r.id, image.config.digest);
    assert.deepEqual(r.repoTags, ['registry.example.test/team/app:1.0']);
    assert.deepEqual(r.repoDigests, [`registry.example.test/team/app@${image.manifest.digest}`]);
    assert.deepEqual(r.manifest, { digest: image.manifest.digest, mediaType: image.manifest.mediaType, size: image.manifest.size });
    assert.deepEqual(
      r.layers.map((l) => [l.digest, l.diffId, l.mediaType]),
      image.layers.map((l) => [l.digest, l.diffId, l.mediaType]),
    );
    assert.deepEqual(r.contentRefs.sort(), [image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)].sort());
    assert.equal(r.size, image.config.size + image.layers.reduce((n, l) => n + l.size, 0));
    assert.equal(await env.readFromImage(r, 'hello.txt'), 'hello from the archive\n');
    assert.equal(env.images.resolve('registry.example.test/team/app:1.0')?.id, r.id);
    assert.equal(env.images.resolve(`registry.example.test/team/app@${image.manifest.digest}`)?.id, r.id);
    assert.ok(events.some((e) => e.kind === 'layer' && e.phase === 'unpacking'));
    assert.ok(events.some((e) => e.kind === 'image' && e.id === r.id));
    // Every blob stays; the snapshot is committed under the chain ID.
    assert.deepEqual((await env.content.list()).map((b) => b.digest).sort(), [...r.contentRefs].sort());
    assert.deepEqual(
      (await env.snapshotter.list()).map((s) => [s.kind, s.key]),
      [['committed', r.chainIds[0]]],
    );
  });
});

test('OCI layout: a ref.name that is only a tag needs a base name; a full ref.name is a name', async () => {
  await withEnv(async (env) => {
    const a = buildImage(tinyImage({ files: { 'a.txt': 'a\n' } }));
    const b = buildImage(tinyImage({ files: { 'b.txt': 'b\n' } }));
    const file = await env.write(
      'oci.tar',
      ociLayout([
        { target: a, annotations: { [REF_NAME]: '1.0' } },
        { target: b, annotations: { [REF_NAME]: 'localhost:5000/b:2' } },
      ]),
    );
    // Without a base name: the tag-only entry is imported without a name, with a warning.
    const first = await env.import(file);
    const byId = new Map<string, ImageRecord>(first.records.map((r) => [r.id, r]));
    assert.deepEqual(byId.get(a.config.digest)?.repoTags, []);
    assert.deepEqual(byId.get(a.config.digest)?.repoDigests, []);
    assert.deepEqual(byId.get(b.config.digest)?.repoTags, ['localhost:5000/b:2']);
    assert.ok(first.events.some((e) => e.kind === 'warning' && /only a tag/.test(e.message)));
    // With one: <base>:<tag>, familiar base names normalised.
    const second = await env.import(file, { baseName: 'myapp' });
    const a2 = second.records.find((r) => r.id === a.config.digest);
    assert.deepEqual(a2?.repoTags, ['docker.io/library/myapp:1.0']);
    assert.deepEqual(a2?.repoDigests, [`docker.io/library/myapp@${a.manifest.digest}`]);
    assert.equal(env.images.list().length, 2, 'importing again adds no image');
    await assert.rejects(env.import(file, { baseName: 'myapp:1' }), (e) => isBerthError(e, 'invalid-argument'));
  });
});

test('OCI layout, multi-platform: the index gives this platform; other platforms are not kept', async () => {
  await withEnv(async (env) => {
    const index = buildIndex({
      manifests: [
        { image: tinyImage({ platform: ARM64, files: { 'which.txt': 'arm64\n' } }) },
        { image: tinyImage({ platform: AMD64, files: { 'which.txt': 'amd64\n' } }) },
      ],
    });
    const [arm, amd] = index.images as [BuiltImage, BuiltImage];
    const file = await env.write(
      'multi.tar',
      ociLayout([{ target: index, annotations: { [CONTAINERD_NAME]: 'docker.io/library/multi:1' } }]),
    );
    const { records } = await env.import(file);
    assert.equal(records.length, 1);
    const r = records[0]!;
    assert.equal(r.id, amd.config.digest);
    assert.equal(r.manifest.digest, amd.manifest.digest);
    assert.deepEqual(r.repoTags, ['docker.io/library/multi:1']);
    assert.deepEqual(r.repoDigests, [`docker.io/library/multi@${index.index.digest}`], 'the repo digest is the index, as a pull records');
    assert.ok(r.contentRefs.includes(index.index.digest as Digest));
    assert.equal(await env.readFromImage(r, 'which.txt'), 'amd64\n');
    const stored = new Set<string>((await env.content.list()).map((b) => b.digest));
    for (const b of imageBlobs(arm)) assert.ok(!stored.has(b.digest), `the arm64 blob ${b.mediaType} was removed`);
    assert.deepEqual([...stored].sort(), [...r.contentRefs].sort());
  });
});

test("OCI layout, multi-platform, with only this platform's blobs (as docker save writes it)", async () => {
  await withEnv(async (env) => {
    const index = buildIndex({
      manifests: [{ image: tinyImage({ platform: AMD64 }) }, { image: tinyImage({ platform: ARM64, files: { 'x.txt': 'arm\n' } }) }],
    });
    const arm = index.images[1]!;
    // Docker also lists per-platform entries with a platform: the arm64 one is skipped.
    const file = await env.write(
      'partial.tar',
      ociLayout(
        [
          { target: index, annotations: { [CONTAINERD_NAME]: 'docker.io/library/partial:1' } },
          { target: arm, platform: ARM64 },
        ],
        {
          omit: imageBlobs(arm).map((b) => b.digest),
        },
      ),
    );
    const { records, events } = await env.import(file);
    assert.deepEqual(
      records.map((r) => r.id),
      [index.images[0]!.config.digest],
    );
    assert.ok(events.some((e) => e.kind === 'warning' && /linux\/arm64/.test(e.message)));
  });
});

test('OCI layout: a layer whose content does not unpack to its diff_id is refused; its lower layers go too', async () => {
  await withEnv(async (env) => {
    const good = buildImage({
      layers: [
        { entries: [{ type: 'file', name: 'base.txt', content: 'base\n' }] },
        { entries: [{ type: 'file', name: 'top.txt', content: 'top\n' }] },
      ],
    });
    const bad = rebuildConfig(good, (config) => {
      (config.rootfs as { diff_ids: string[] }).diff_ids[1] = sha256('something else');
    });
    const file = await env.write(
      'bad-diffid.tar',
      ociLayout([{ target: bad, annotations: { [CONTAINERD_NAME]: 'docker.io/library/bad:1' } }]),
    );
    await expectRefused(env, file, 'diff-id-mismatch');
    await assertNothingLeft(env);
  });
});

// ---------------------------------------------------------------------------------------------
// docker save

test('docker save (Docker < 25): two tags, a shared layer written as a symlink, layers stored as docker layers', async () => {
  await withEnv(async (env) => {
    const one = uncompressedDocker({ files: { 'one.txt': 'one\n' }, second: 'shared\n' });
    const two = buildImage({
      ...tinyImage({ format: 'docker', compression: 'none', files: { 'one.txt': 'one\n' } }),
      configExtra: { author: 'two' },
    });
    assert.equal(two.layers[0]!.diffId, one.layers[0]!.diffId, 'the images share their first layer');
    const file = await env.write(
      'save.tar',
      dockerSave([
        { image: one, repoTags: ['busybox:latest', 'localhost:5000/team/busybox:1.36'] },
        { image: two, repoTags: ['two:1'] },
      ]),
    );
    const { records } = await env.import(file);
    const r = records.find((x) => x.id === one.config.digest)!;
    assert.deepEqual(r.repoTags, ['docker.io/library/busybox:latest', 'localhost:5000/team/busybox:1.36']);
    assert.deepEqual(r.repoDigests, [], 'no registry digest for a docker save');
    assert.deepEqual(
      r.layers.map((l) => [l.digest, l.diffId, l.mediaType, l.size]),
      one.layers.map((l) => [l.diffId, l.diffId, 'application/vnd.docker.image.rootfs.diff.tar', l.tar.length]),
    );
    // The manifest is made and stored; it names the config and the layers.
    const manifest = JSON.parse((await env.content.readBlob(r.manifest.digest)).toString()) as {
      mediaType: string;
      config: { digest: string };
      layers: { digest: string }[];
    };
    assert.equal(r.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.config.digest, one.config.digest);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      one.layers.map((l) => l.diffId),
    );
    assert.equal(await env.readFromImage(r, 'second.txt'), 'shared\n');
    const t = records.find((x) => x.id === two.config.digest)!;
    assert.deepEqual(t.repoTags, ['docker.io/library/two:1']);
    assert.equal(await env.readFromImage(t, 'one.txt'), 'one\n');
    assert.equal(env.images.resolve('busybox')?.id, one.config.digest);
    // The shared layer is one snapshot.
    assert.equal((await env.snapshotter.list()).filter((s) => s.kind === 'committed').length, 2);
  });
});

test('docker save (Docker 25+): blobs/sha256 members; with the OCI index too, index.json is used', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ files: { 'new.txt': 'new docker\n' } });
    const file = await env.write('save25.tar', dockerSave([{ image, repoTags: ['new:1'] }], 'blobs'));
    const { records } = await env.import(file);
    assert.deepEqual(records[0]?.repoTags, ['docker.io/library/new:1']);
    assert.equal(await env.readFromImage(records[0]!, 'new.txt'), 'new docker\n');
  });
  await withEnv(async (env) => {
    // Docker 25's own shape: OCI layout (uncompressed OCI layers) plus manifest.json.
    const image = buildImage({ ...tinyImage({ compression: 'none', files: { 'both.txt': 'both\n' } }) });
    const manifestJson = JSON.stringify([
      {
        Config: `blobs/sha256/${image.config.digest.slice(7)}`,
        RepoTags: ['ignored:1'],
        Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    const file = await env.write(
      'docker25.tar',
      ociLayout([{ target: image, annotations: { [CONTAINERD_NAME]: 'docker.io/library/both:1', [REF_NAME]: '1' } }], {
        extra: [{ type: 'file', name: 'manifest.json', content: manifestJson }],
      }),
    );
    const { records } = await env.import(file);
    assert.deepEqual(records[0]?.repoTags, ['docker.io/library/both:1']);
    assert.equal(records[0]?.manifest.digest, image.manifest.digest);
  });
});

test('gzip- and zstd-compressed archives are recognised by their magic', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ files: { 'z.txt': 'zipped\n' } });
    const tar = dockerSave([{ image, repoTags: ['zipped:gz'] }]);
    const gz = await env.write('save.tar.whatever', gzipSync(tar));
    assert.deepEqual((await env.import(gz)).records[0]?.repoTags, ['docker.io/library/zipped:gz']);
    const oci = buildImage(tinyImage({ files: { 'z.txt': 'zstd\n' } }));
    const zst = await env.write(
      'oci.tar',
      zstdCompressSync(ociLayout([{ target: oci, annotations: { [CONTAINERD_NAME]: 'zipped:zst' } }])),
    );
    const r = (await env.import(zst)).records[0]!;
    assert.equal(await env.readFromImage(r, 'z.txt'), 'zstd\n');
  });
});

test('importing the same archive twice: blobs exist, nothing changes', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ files: { 'again.txt': 'again\n' } });
    const file = await env.write('save.tar', dockerSave([{ image, repoTags: ['again:1'] }]));
    const first = await env.import(file);
    const blobs = await env.content.list();
    const second = await env.import(file);
    assert.deepEqual(
      second.records,
      first.records.map((r) => ({ ...r, pulledAt: second.records[0]!.pulledAt })),
    );
    assert.deepEqual(await env.content.list(), blobs);
    assert.ok(second.events.filter((e) => e.kind === 'blob').every((e) => e.kind === 'blob' && e.phase === 'exists'));
    assert.ok(!second.events.some((e) => e.kind === 'layer' && e.phase === 'unpacking'), 'no layer unpacked again');
  });
});

// ---------------------------------------------------------------------------------------------
// Refusals: nothing recorded, nothing left

test('a member named ../x or /abs is refused, also after blobs were stored', async () => {
  for (const name of ['../x', '/abs', 'blobs/sha256/../../../x']) {
    await withEnv(async (env) => {
      const image = buildImage(tinyImage());
      const file = await env.write(
        'evil.tar',
        ociLayout([{ target: image, annotations: { [CONTAINERD_NAME]: 'evil:1' } }], { extra: [{ type: 'file', name, content: 'evil' }] }),
      );
      await expectRefused(env, file, 'archive-unsafe-path');
      await assertNothingLeft(env);
      assert.ok(!existsSync(path.join(env.dir, '..', 'x')));
    });
  }
});

test('manifest.json naming a layer outside the archive, or a symlink out of it, is refused', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker();
    const config = `${image.config.digest.slice(7)}.json`;
    const file = await env.write(
      'evil-manifest.tar',
      writeTar([
        { type: 'file', name: config, content: image.config.bytes },
        {
          type: 'file',
          name: 'manifest.json',
          content: JSON.stringify([{ Config: config, RepoTags: ['evil:1'], Layers: ['../../etc/passwd'] }]),
        },
      ]),
    );
    await expectRefused(env, file, 'archive-unsafe-path');
    await assertNothingLeft(env);
    const link = await env.write(
      'evil-link.tar',
      writeTar([
        { type: 'file', name: config, content: image.config.bytes },
        { type: 'symlink', name: 'l/layer.tar', linkname: '../../outside.tar' },
        {
          type: 'file',
          name: 'manifest.json',
          content: JSON.stringify([{ Config: config, RepoTags: ['evil:1'], Layers: ['l/layer.tar'] }]),
        },
      ]),
    );
    await expectRefused(env, link, 'archive-unsafe-path');
    await assertNothingLeft(env);
  });
});

test('a blob whose content does not match its name is refused', async () => {
  await withEnv(async (env) => {
    const image = buildImage(tinyImage());
    const layer = image.layers[0]!;
    const tampered = { digest: layer.digest, bytes: Buffer.concat([layer.bytes.subarray(0, -1), Buffer.from([layer.bytes.at(-1)! ^ 1])]) };
    const tar = ociLayout([{ target: image, annotations: { [CONTAINERD_NAME]: 'tampered:1' } }], {
      omit: [layer.digest],
      extra: [blobMember(tampered)],
    });
    await expectRefused(env, await env.write('tampered.tar', tar), 'digest-mismatch');
    await assertNothingLeft(env);
    // A blob under another blob's name.
    const other = makeBlob('x', 'other');
    const renamed = ociLayout([{ target: image }], {
      extra: [{ type: 'file', name: `blobs/sha256/${other.digest.slice(7)}`, content: 'not other' }],
    });
    await expectRefused(env, await env.write('renamed.tar', renamed), 'digest-mismatch');
    await assertNothingLeft(env);
    // A descriptor whose size is not the blob's.
    const wrongSize = ociLayout([{ target: withWrongLayerSize(image, 0), annotations: { [CONTAINERD_NAME]: 'size:1' } }]);
    await expectRefused(env, await env.write('size.tar', wrongSize), 'size-mismatch');
    await assertNothingLeft(env);
  });
});

test("docker save: a layer that is not the config's diff_id is refused before anything is unpacked", async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ second: 'two\n' });
    const bad = rebuildConfig(image, (config) => {
      (config.rootfs as { diff_ids: string[] }).diff_ids[1] = sha256('not this layer');
    });
    await expectRefused(env, await env.write('bad.tar', dockerSave([{ image: bad, repoTags: ['bad:1'] }])), 'diff-id-mismatch');
    await assertNothingLeft(env);
    const fewer = rebuildConfig(image, (config) => {
      (config.rootfs as { diff_ids: string[] }).diff_ids.pop();
    });
    await expectRefused(env, await env.write('fewer.tar', dockerSave([{ image: fewer, repoTags: ['bad:1'] }])), 'bad-manifest');
    await assertNothingLeft(env);
    // Docker 25 shape: the layers are blobs, stored during the first read, and removed again.
    await expectRefused(env, await env.write('bad25.tar', dockerSave([{ image: bad, repoTags: ['bad:1'] }], 'blobs')), 'diff-id-mismatch');
    await assertNothingLeft(env);
  });
});

test('members over the limits are refused', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ files: { 'big.txt': 'x'.repeat(64 * 1024) } });
    const file = await env.write('save.tar', dockerSave([{ image, repoTags: ['big:1'] }]));
    await expectRefused(env, file, 'archive-member-too-large', { limits: { maxMemberBytes: 32 * 1024 } });
    await assertNothingLeft(env);
    await expectRefused(env, file, 'archive-member-too-large', { limits: { maxMetadataBytes: 100 } });
    await assertNothingLeft(env);
    const oci = buildImage(tinyImage());
    const ociFile = await env.write('oci.tar', ociLayout([{ target: oci }]));
    await expectRefused(env, ociFile, 'archive-member-too-large', { limits: { maxMetadataBytes: 200 } });
    await assertNothingLeft(env);
  });
});

test('not an image archive, a missing blob, a missing file: clear errors', async () => {
  await withEnv(async (env) => {
    await expectRefused(
      env,
      await env.write('plain.tar', writeTar([{ type: 'file', name: 'hello.txt', content: 'hi' }])),
      'archive-unknown-format',
    );
    await expectRefused(env, await env.write('text.tar', Buffer.from('not a tar\n'.repeat(100))), 'archive-bad-tar');
    await expectRefused(env, path.join(env.dir, 'absent.tar'), 'archive-not-found');
    const armOnly = buildImage(tinyImage({ platform: ARM64 }));
    await expectRefused(env, await env.write('arm.tar', ociLayout([{ target: armOnly, platform: ARM64 }])), 'archive-no-images');
    await assertNothingLeft(env);
    await expectRefused(env, await env.write('none.tar', dockerSave([])), 'archive-no-images');
    const image = buildImage(tinyImage());
    const missing = ociLayout([{ target: image, annotations: { [CONTAINERD_NAME]: 'missing:1' } }], { omit: [image.layers[0]!.digest] });
    await expectRefused(env, await env.write('missing.tar', missing), 'archive-blob-missing');
    await assertNothingLeft(env);
  });
});

test('a failed import keeps what other images hold', async () => {
  await withEnv(async (env) => {
    const base = uncompressedDocker({ files: { 'keep.txt': 'keep\n' } });
    const good = await env.write('good.tar', dockerSave([{ image: base, repoTags: ['keep:1'] }], 'blobs'));
    const [kept] = (await env.import(good)).records;
    const blobs = await env.content.list();
    const snapshots = await env.snapshotter.list();
    // Same first layer, a second one whose diff_id is wrong (found only when unpacking, compressed).
    const bad = buildImage({
      layers: [{ tar: base.layers[0]!.tar, compression: 'none' }, { entries: [{ type: 'file', name: 'x', content: 'x' }] }],
    });
    const broken = rebuildConfig(bad, (config) => {
      (config.rootfs as { diff_ids: string[] }).diff_ids[1] = sha256('wrong');
    });
    await expectRefused(
      env,
      await env.write('bad.tar', ociLayout([{ target: broken, annotations: { [CONTAINERD_NAME]: 'bad:1' } }])),
      'diff-id-mismatch',
    );
    assert.deepEqual(
      env.images.list().map((r) => r.id),
      [kept!.id],
    );
    assert.deepEqual(await env.content.list(), blobs);
    assert.deepEqual(await env.snapshotter.list(), snapshots);
    assert.equal(await env.readFromImage(kept!, 'keep.txt'), 'keep\n');
  });
});

test('a cancelled import stops and leaves nothing', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker({ files: { 'big.bin': 'y'.repeat(4 * 1024 * 1024) } });
    const file = await env.write('save.tar', dockerSave([{ image, repoTags: ['cancel:1'] }], 'blobs'));
    const controller = new AbortController();
    await assert.rejects(
      importArchive(env.deps, file, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.kind === 'blob') controller.abort();
        },
      }),
      (e) => isBerthError(e, 'cancelled'),
    );
    await assertNothingLeft(env);
  });
});

test('the digest of a config is the image ID (docker save names it by hex)', async () => {
  await withEnv(async (env) => {
    const image = uncompressedDocker();
    const { records } = await env.import(await env.write('s.tar', dockerSave([{ image, repoTags: [] }])));
    assert.equal(records[0]?.id, image.config.digest as Digest);
    assert.deepEqual(records[0]?.repoTags, []);
  });
});
