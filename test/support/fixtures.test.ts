// Self-test of the registry fixtures: a real docker-registry on loopback, images
// built in memory and pushed with the distribution API, and the tampering proxy.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import {
  type BuiltLayer,
  buildImage,
  busyboxLikeImage,
  deleteBlob,
  MediaTypes,
  pathTraversalLayer,
  pushBlob,
  pushImage,
  pushIndex,
  rebuildManifest,
  tinyImage,
  withWrongConfigSize,
  withWrongDiffId,
  withWrongLayerDigest,
  withWrongLayerSize,
} from './image-builder.ts';
import { freePort } from './ports.ts';
import { processAlive, startRegistry, type TestRegistry } from './registry.ts';
import { startTamperingProxy } from './tampering-proxy.ts';
import { writeTar } from './tar-writer.ts';
import { makeTempDir } from './tmp.ts';

const ALL_MANIFESTS = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList].join(', ');

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The whole announced body arrived. */
  complete: boolean;
  /** ms from the request to the first body byte / to the end. */
}

/** A GET with node:http that reports what arrived even when the connection is cut. */
function rawGet(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => {
        // reported through complete=false
      });
      res.on('close', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read registry JSON documents loosely
type LooseJson = any;

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ res: Response; bytes: Buffer; json: LooseJson }> {
  const res = await fetch(url, { headers: { Accept: ALL_MANIFESTS, ...headers } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes, json: res.ok ? JSON.parse(bytes.toString('utf8')) : undefined };
}

async function getBlob(registry: { url: string }, repo: string, digest: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { headers });
  assert.equal(res.status, 200, `GET blob ${digest}`);
  return Buffer.from(await res.arrayBuffer());
}

interface TarListing {
  path: string;
  type: string;
  linkpath: string;
  size: number;
  content: string;
}

function tarNames(tar: Buffer): Promise<TarListing[]> {
  return new Promise((resolve, reject) => {
    const entries: TarListing[] = [];
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        const listing: TarListing = {
          path: entry.path,
          type: entry.type,
          linkpath: entry.linkpath ?? '',
          size: entry.size ?? 0,
          content: '',
        };
        entries.push(listing);
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          listing.content = Buffer.concat(chunks).toString('utf8');
        });
      },
    });
    parser.on('end', () => resolve(entries));
    parser.on('error', reject);
    parser.end(tar);
  });
}

function decompress(layer: { mediaType: string }, bytes: Buffer): Buffer {
  if (layer.mediaType.endsWith('gzip')) return gunzipSync(bytes);
  if (layer.mediaType.endsWith('zstd')) return zstdDecompressSync(bytes);
  return bytes;
}

describe('tar writer', () => {
  test('keeps malicious names, long names and xattrs as given', async () => {
    const long = `${'deep/'.repeat(40)}file.txt`;
    const tar = writeTar([
      ...pathTraversalLayer().entries!,
      { type: 'file', name: long, content: 'long' },
      { type: 'symlink', name: 'longlink', linkname: `/${'x'.repeat(150)}` },
      { type: 'file', name: 'xattr', content: 'x', xattrs: { 'user.berth': 'yes' } },
      { type: 'char', name: 'dev/null', devmajor: 1, devminor: 3, mode: 0o666 },
      { type: 'fifo', name: 'fifo' },
      { type: 'file', name: 'etc/.wh.gone', content: '' },
      { type: 'file', name: 'opt/.wh..wh..opq', content: '' },
    ]);
    assert.equal(tar.length % 512, 0);
    const entries = await tarNames(tar);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    for (const name of [
      '../evil-parent',
      '/evil-absolute',
      'ok/../../evil-inner',
      'link-out/tmp/berth-evil-through-symlink',
      long,
      'etc/.wh.gone',
      'opt/.wh..wh..opq',
    ]) {
      assert.ok(byPath.has(name), `entry ${name} kept: ${[...byPath.keys()].join(' ')}`);
    }
    assert.equal(byPath.get('link-out')?.type, 'SymbolicLink');
    assert.equal(byPath.get('link-out')?.linkpath, '../../../../../../../');
    assert.equal(byPath.get('hardlink-abs')?.type, 'Link');
    assert.equal(byPath.get('hardlink-abs')?.linkpath, '/etc/hostname');
    assert.equal(byPath.get('longlink')?.linkpath, `/${'x'.repeat(150)}`);
    assert.equal(byPath.get('dev/null')?.type, 'CharacterDevice');
    assert.equal(byPath.get('fifo')?.type, 'FIFO');
    assert.equal(byPath.get(long)?.size, 4);
  });
});

describe('registry without auth', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  test('answers /v2/ on a loopback URL', async () => {
    assert.match(registry.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(registry.host, registry.url.slice('http://'.length));
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  for (const format of ['oci', 'docker'] as const) {
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      test(`serves a pushed ${format} image with ${compression} layers`, async () => {
        const pushed = await pushImage(registry, `busybox-${format}-${compression}:1`, busyboxLikeImage({ format, compression }));
        assert.equal(pushed.reference, `${registry.host}/busybox-${format}-${compression}:1`);
        assert.equal(pushed.layerDigests.length, 3);
        assert.ok(pushed.totalSize > 500_000 && pushed.totalSize < 4_000_000, `size ${pushed.totalSize}`);

        const { res, bytes, json } = await getJson(`${registry.url}/v2/${pushed.repository}/manifests/1`);
        assert.equal(res.status, 200);
        const manifestType = format === 'oci' ? MediaTypes.ociManifest : MediaTypes.dockerManifest;
        assert.equal(res.headers.get('content-type'), manifestType);
        assert.equal(res.headers.get('docker-content-digest'), pushed.manifestDigest);
        assert.equal(sha256(bytes), pushed.manifestDigest);
        assert.equal(json.mediaType, manifestType);
        assert.equal(json.config.digest, pushed.configDigest);
        assert.deepEqual(
          json.layers.map((l: { digest: string }) => l.digest),
          pushed.layerDigests,
        );

        const configBytes = await getBlob(registry, pushed.repository, pushed.configDigest);
        assert.equal(sha256(configBytes), pushed.configDigest);
        const config = JSON.parse(configBytes.toString('utf8'));
        assert.equal(config.architecture, 'amd64');
        assert.equal(config.os, 'linux');
        assert.deepEqual(config.rootfs.diff_ids, pushed.diffIds);
        assert.deepEqual(config.config.Cmd, ['sh']);
        assert.equal(config.history.length, 3);

        const expectedLayerType = {
          oci: { gzip: MediaTypes.ociLayerGzip, zstd: MediaTypes.ociLayerZstd, none: MediaTypes.ociLayer },
          docker: { gzip: MediaTypes.dockerLayerGzip, zstd: MediaTypes.dockerLayerZstd, none: MediaTypes.dockerLayer },
        }[format][compression];
        for (const [i, descriptor] of (json.layers as Array<{ mediaType: string; digest: string; size: number }>).entries()) {
          assert.equal(descriptor.mediaType, expectedLayerType);
          const blob = await getBlob(registry, pushed.repository, descriptor.digest);
          assert.equal(blob.length, descriptor.size);
          assert.equal(sha256(blob), descriptor.digest);
          assert.equal(sha256(decompress(descriptor, blob)), pushed.diffIds[i]);
        }
        if (format === 'oci' && compression === 'gzip') {
          const layers = pushed.image.layers as BuiltLayer[];
          const names1 = await tarNames((layers[0] as BuiltLayer).tar);
          const sh = names1.find((e) => e.path === 'bin/sh');
          assert.equal(sh?.type, 'Link');
          assert.equal(sh?.linkpath, 'bin/busybox');
          assert.ok((names1.find((e) => e.path === 'bin/busybox')?.size ?? 0) > 500_000);
          assert.equal(names1.find((e) => e.path === 'usr/bin/env')?.linkpath, '/bin/busybox');
          const names3 = (await tarNames((layers[2] as BuiltLayer).tar)).map((e) => e.path);
          assert.ok(names3.includes('etc/.wh.to-be-removed'));
          assert.ok(names3.includes('opt/replaced/.wh..wh..opq'));
        }
      });
    }
  }

  for (const format of ['oci', 'docker'] as const) {
    test(`serves a ${format} index over two platforms with different content`, async () => {
      const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
      const pushed = await pushIndex(registry, `multi-${format}:latest`, {
        format,
        manifests: [{ image: tinyImage() }, { image: tinyImage({ platform: arm64 }) }],
      });
      const indexType = format === 'oci' ? MediaTypes.ociIndex : MediaTypes.dockerManifestList;
      const { res, bytes, json } = await getJson(`${registry.url}/v2/multi-${format}/manifests/latest`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), indexType);
      assert.equal(res.headers.get('docker-content-digest'), pushed.manifestDigest);
      assert.equal(sha256(bytes), pushed.manifestDigest);
      assert.deepEqual(
        json.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
        ['amd64', 'arm64'],
      );
      assert.equal(json.manifests[1].platform.variant, 'v8');

      const markers: string[] = [];
      for (const [i, descriptor] of (json.manifests as Array<{ digest: string; mediaType: string; size: number }>).entries()) {
        assert.equal(descriptor.digest, pushed.images[i]?.manifestDigest);
        const child = await getJson(`${registry.url}/v2/multi-${format}/manifests/${descriptor.digest}`);
        assert.equal(child.res.status, 200);
        assert.equal(child.res.headers.get('content-type'), descriptor.mediaType);
        assert.equal(child.bytes.length, descriptor.size);
        const layer = child.json.layers[0];
        const tar = gunzipSync(await getBlob(registry, `multi-${format}`, layer.digest));
        const marker = (await tarNames(tar)).find((e) => e.path === 'etc/berth-platform');
        markers.push(marker?.content ?? '');
        const config = JSON.parse((await getBlob(registry, `multi-${format}`, child.json.config.digest)).toString());
        assert.equal(config.architecture, i === 0 ? 'amd64' : 'arm64');
      }
      assert.deepEqual(markers, ['linux/amd64\n', 'linux/arm64/v8\n']);
      assert.notEqual(pushed.images[0]?.layerDigests[0], pushed.images[1]?.layerDigests[0]);
    });
  }

  test('accepts manifests with wrong layer size, wrong layer digest, wrong diff_id and wrong config size', async () => {
    const base = buildImage(tinyImage({ files: { 'hello.txt': 'hello\n' } }));
    const layer = base.layers[0] as BuiltLayer;

    const badSize = await pushImage(registry, 'bad:size', withWrongLayerSize(base, 0));
    const sizeManifest = await getJson(`${registry.url}/v2/bad/manifests/size`);
    assert.equal(sizeManifest.json.layers[0].digest, layer.digest);
    assert.equal(sizeManifest.json.layers[0].size, layer.size + 1);
    assert.equal((await getBlob(registry, 'bad', layer.digest)).length, layer.size);
    assert.notEqual(badSize.manifestDigest, base.manifest.digest);

    const wrongDigest = withWrongLayerDigest(base, 0);
    await pushImage(registry, 'bad:digest', wrongDigest);
    const digestManifest = await getJson(`${registry.url}/v2/bad/manifests/digest`);
    const decoyDigest = digestManifest.json.layers[0].digest;
    assert.notEqual(decoyDigest, layer.digest);
    assert.equal(digestManifest.json.layers[0].size, layer.size);
    const decoy = await getBlob(registry, 'bad', decoyDigest);
    assert.equal(sha256(decoy), decoyDigest);
    assert.equal(decoy.length, layer.size);

    await pushImage(registry, 'bad:diffid', withWrongDiffId(base, 0));
    const diffManifest = await getJson(`${registry.url}/v2/bad/manifests/diffid`);
    const config = JSON.parse((await getBlob(registry, 'bad', diffManifest.json.config.digest)).toString());
    assert.notEqual(config.rootfs.diff_ids[0], layer.diffId);

    await pushImage(registry, 'bad:configsize', withWrongConfigSize(base));
    const cfgManifest = await getJson(`${registry.url}/v2/bad/manifests/configsize`);
    assert.equal(cfgManifest.json.config.size, base.config.size + 1);

    // A manifest naming a blob that was never pushed is refused by the registry.
    const missing = rebuildManifest(base, (m) => {
      (m.layers[0] as { digest: string }).digest = sha256(Buffer.from('never pushed'));
    });
    await assert.rejects(pushImage(registry, 'bad:missing', missing), /HTTP 400.*MANIFEST_BLOB_UNKNOWN|blob unknown/i);
  });

  test('refuses a blob pushed under a wrong digest', async () => {
    await assert.rejects(pushBlob(registry, 'bad', Buffer.from('content'), { claimedDigest: sha256(Buffer.from('other')) }), /HTTP 400/);
  });

  test('serves path-traversal layers as built', async () => {
    const pushed = await pushImage(registry, 'evil:1', { layers: [pathTraversalLayer()] });
    const blob = await getBlob(registry, 'evil', pushed.layerDigests[0] as string);
    const names = (await tarNames(gunzipSync(blob))).map((e) => e.path);
    assert.ok(names.includes('../evil-parent'));
    assert.ok(names.includes('/evil-absolute'));
  });

  test('corruptStoredBlob makes the registry serve bytes that miss their digest', async () => {
    const pushed = await pushImage(registry, 'corrupt:1', tinyImage({ files: { 'c.txt': 'corrupt me\n' } }));
    const digest = pushed.layerDigests[0] as string;
    const before = await getBlob(registry, 'corrupt', digest);
    await registry.corruptStoredBlob(digest);
    const after = await getBlob(registry, 'corrupt', digest);
    assert.equal(after.length, before.length);
    assert.notEqual(sha256(after), digest);
  });

  test('deleteBlob makes a layer of a pushed image unknown', async () => {
    const pushed = await pushImage(registry, 'deleted:1', tinyImage({ files: { 'd.txt': 'delete me\n' } }));
    const digest = pushed.layerDigests[0] as string;
    await deleteBlob(registry, 'deleted', digest);
    const res = await fetch(`${registry.url}/v2/deleted/blobs/${digest}`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /BLOB_UNKNOWN/);
    const manifest = await getJson(`${registry.url}/v2/deleted/manifests/1`);
    assert.equal(manifest.res.status, 200);
  });
});

describe('registry with htpasswd auth', () => {
  const auth = { username: 'alice', password: 'correct horse' };
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ auth });
  });
  after(async () => {
    await registry?.stop();
  });

  test('challenges with Basic and refuses wrong credentials', async () => {
    const anonymous = await fetch(`${registry.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="/);
    const wrong = await fetch(`${registry.url}/v2/`, { headers: { Authorization: basic('alice', 'wrong') } });
    assert.equal(wrong.status, 401);
    const unknown = await fetch(`${registry.url}/v2/`, { headers: { Authorization: basic('mallory', auth.password) } });
    assert.equal(unknown.status, 401);
    const right = await fetch(`${registry.url}/v2/`, { headers: { Authorization: basic(auth.username, auth.password) } });
    assert.equal(right.status, 200);
  });

  test('push uses the registry credentials; pulls need them', async () => {
    const pushed = await pushImage(registry, 'private/app:v1', tinyImage({ files: { 'secret.txt': 'private\n' } }));
    const url = `${registry.url}/v2/private/app/manifests/v1`;
    assert.equal((await getJson(url)).res.status, 401);
    assert.equal((await getJson(url, { Authorization: basic('alice', 'nope') })).res.status, 401);
    const ok = await getJson(url, { Authorization: basic(auth.username, auth.password) });
    assert.equal(ok.res.status, 200);
    assert.equal(ok.res.headers.get('docker-content-digest'), pushed.manifestDigest);
    const blobRes = await fetch(`${registry.url}/v2/private/app/blobs/${pushed.configDigest}`);
    assert.equal(blobRes.status, 401);
  });

  test('push with wrong or no credentials fails', async () => {
    await assert.rejects(pushImage(registry, 'private/app:v2', tinyImage(), { auth: { username: 'alice', password: 'bad' } }), /HTTP 401/);
    await assert.rejects(pushImage(registry, 'private/app:v2', tinyImage(), { auth: null }), /HTTP 401/);
  });

  test('an index pushes with auth', async () => {
    const pushed = await pushIndex(registry, 'private/multi:1', {
      manifests: [{ image: tinyImage() }, { image: tinyImage({ platform: { os: 'linux', architecture: 'arm64' } }) }],
    });
    const res = await getJson(`${registry.url}/v2/private/multi/manifests/1`, { Authorization: basic(auth.username, auth.password) });
    assert.equal(res.res.headers.get('docker-content-digest'), pushed.manifestDigest);
    assert.equal(res.json.manifests.length, 2);
  });
});

describe('tampering proxy', () => {
  let registry: TestRegistry;
  let layerDigest: string;
  let layerSize: number;
  before(async () => {
    registry = await startRegistry();
    // A 256 KiB incompressible file makes the layer large enough to cut in the middle.
    const pushed = await pushImage(registry, 'proxied:1', {
      compression: 'none',
      layers: [
        { entries: [{ type: 'file', name: 'blob.bin', content: createHash('sha512').update('x').digest().toString('hex').repeat(2048) }] },
      ],
    });
    layerDigest = pushed.layerDigests[0] as string;
    layerSize = pushed.image.layers[0]?.size as number;
  });
  after(async () => {
    await registry?.stop();
  });

  test('passes requests through untouched without rules, pushes included', async () => {
    await using proxy = await startTamperingProxy(registry);
    const res = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    assert.equal(sha256(res.body), layerDigest);
    const pushed = await pushImage(proxy.url, 'via-proxy:1', tinyImage({ files: { 'p.txt': 'through the proxy\n' } }));
    const direct = await getJson(`${registry.url}/v2/via-proxy/manifests/1`);
    assert.equal(direct.res.headers.get('docker-content-digest'), pushed.manifestDigest);
    assert.ok(proxy.requests.some((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/')));
    // The registry's absolute upload Location named the proxy, so the PUT came through it too.
    assert.ok(proxy.requests.some((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.url.includes('digest=')));
    assert.ok(proxy.requests.every((r) => r.tampered === undefined));
  });

  test('corrupts one byte of matching responses, as many times as told', async () => {
    await using proxy = await startTamperingProxy(registry.url);
    const rule = proxy.tamper(/\/blobs\/sha256:/, { kind: 'corrupt' }, { times: 1, method: 'GET' });
    const bad = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(bad.status, 200);
    assert.ok(bad.complete);
    assert.equal(bad.body.length, layerSize);
    assert.notEqual(sha256(bad.body), layerDigest);
    const good = await rawGet(`${registry.url}/v2/proxied/blobs/${layerDigest}`);
    let differing = 0;
    for (let i = 0; i < good.body.length; i++) if (good.body[i] !== bad.body[i]) differing++;
    assert.equal(differing, 1);
    assert.equal(bad.body[Math.floor(layerSize / 2)], (good.body[Math.floor(layerSize / 2)] as number) ^ 0xff);
    assert.equal(rule.hits, 1);
    const again = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(sha256(again.body), layerDigest);
    assert.deepEqual(
      proxy.requests.map((r) => r.tampered),
      ['corrupt', undefined],
    );
  });

  test('body rules skip HEAD requests and non-2xx answers (a 401 challenge does not use them up)', async () => {
    const auth = { username: 'bob', password: 'pw' };
    await using secured = await startRegistry({ auth });
    const pushed = await pushImage(secured, 'sec:1', tinyImage({ files: { 's.txt': 'secured\n' } }));
    const digest = pushed.layerDigests[0] as string;
    await using proxy = await startTamperingProxy(secured);
    const rule = proxy.tamper(/\/blobs\//, { kind: 'corrupt' }, { times: 1 });
    const url = `${proxy.url}/v2/sec/blobs/${digest}`;
    assert.equal((await rawGet(url)).status, 401);
    const head = await rawGet(url, { Authorization: basic(auth.username, auth.password) }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(rule.hits, 0);
    const corrupted = await rawGet(url, { Authorization: basic(auth.username, auth.password) });
    assert.equal(corrupted.status, 200);
    assert.notEqual(sha256(corrupted.body), digest);
    assert.equal(rule.hits, 1);
    const clean = await rawGet(url, { Authorization: basic(auth.username, auth.password) });
    assert.equal(sha256(clean.body), digest);
    assert.deepEqual(
      proxy.requests.map((r) => [r.method, r.status, r.tampered]),
      [
        ['GET', 401, undefined],
        ['HEAD', 200, undefined],
        ['GET', 200, 'corrupt'],
        ['GET', 200, undefined],
      ],
    );
  });

  test('truncates: headers announce the full size, the socket closes mid-body', async () => {
    await using proxy = await startTamperingProxy(registry);
    proxy.tamper(/\/blobs\//, { kind: 'truncate', afterBytes: 1000 });
    const res = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(layerSize));
    assert.equal(res.complete, false);
    assert.equal(res.body.length, 1000);
    // fetch sees it as an error while reading the body
    const viaFetch = await fetch(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(viaFetch.status, 200);
    await assert.rejects(viaFetch.arrayBuffer());
    // default: half of the body
    proxy.clearRules();
    proxy.tamper(/\/blobs\//, { kind: 'truncate' });
    const half = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(half.body.length, Math.floor(layerSize / 2));
    assert.equal(half.complete, false);
  });

  test('stalls after part of the body, then closes', async () => {
    await using proxy = await startTamperingProxy(registry);
    proxy.tamper(/\/blobs\//, { kind: 'stall', afterBytes: 4096, seconds: 1 });
    const res = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 4096);
    assert.equal(res.complete, false, 'closed after the stall, the rest never sent');
  });

  test('stalls with afterStall: finish delivers the whole body late', async () => {
    await using proxy = await startTamperingProxy(registry);
    proxy.tamper(/\/blobs\//, { kind: 'stall', afterBytes: 10, seconds: 1, afterStall: 'finish' });
    const res = await rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    assert.ok(res.complete);
    assert.equal(sha256(res.body), layerDigest, 'the whole body after the stall');
  });

  test('a stalled request does not keep stop() waiting', async () => {
    const proxy = await startTamperingProxy(registry);
    // After its stall this one would send the whole body: an incomplete body shows that stop() cut it.
    proxy.tamper(/\/blobs\//, { kind: 'stall', seconds: 60, afterStall: 'finish' });
    const pending = rawGet(`${proxy.url}/v2/proxied/blobs/${layerDigest}`);
    while (!proxy.requests.some((r) => r.status === 200)) await new Promise((resolve) => setTimeout(resolve, 10));
    await proxy.stop();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.equal(res.complete, false);
  });

  test('answers a fixed status, resets, delays', async () => {
    await using proxy = await startTamperingProxy(registry);
    proxy.tamper(/\/manifests\/1$/, { kind: 'status', status: 503 }, { times: 1 });
    proxy.tamper(/\/manifests\/1$/, { kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, { times: 1 });
    proxy.tamper(/\/manifests\/reset$/, { kind: 'reset' });
    proxy.tamper(/\/manifests\/1$/, { kind: 'delay', ms: 5000 }, { times: 1 });
    const first = await getJson(`${proxy.url}/v2/proxied/manifests/1`);
    assert.equal(first.res.status, 503);
    assert.match(first.bytes.toString(), /"errors"/);
    const second = await getJson(`${proxy.url}/v2/proxied/manifests/1`);
    assert.equal(second.res.status, 429);
    assert.equal(second.res.headers.get('retry-after'), '1');
    await assert.rejects(rawGet(`${proxy.url}/v2/proxied/manifests/reset`), /ECONNRESET|socket hang up/);
    // The delayed request is answered after one sent later (once the proxy holds the first).
    const answered: string[] = [];
    const delayed = getJson(`${proxy.url}/v2/proxied/manifests/1`).then((r) => {
      answered.push('delayed');
      return r;
    });
    while (!proxy.requests.some((r) => r.tampered === 'delay')) await new Promise((resolve) => setTimeout(resolve, 10));
    const fourth = await getJson(`${proxy.url}/v2/proxied/manifests/1`);
    answered.push('fourth');
    assert.equal(fourth.res.status, 200);
    assert.equal((await delayed).res.status, 200);
    assert.deepEqual(answered, ['fourth', 'delayed']);
    assert.deepEqual(
      proxy.requests.map((r) => [r.tampered, r.status]),
      [
        ['status', 503],
        ['status', 429],
        ['reset', undefined],
        ['delay', 200],
        [undefined, 200],
      ],
    );
  });
});

describe('clean-up', () => {
  test('stop() ends the registry process and removes its temp dir', async () => {
    const registry = await startRegistry({ auth: { username: 'u', password: 'p' } });
    assert.ok(processAlive(registry.pid));
    assert.ok(existsSync(registry.dir));
    await registry.stop();
    assert.equal(processAlive(registry.pid), false);
    assert.equal(existsSync(registry.dir), false);
    await registry.stop(); // idempotent
    const refused = await fetch(`${registry.url}/v2/`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(refused, 'refused');
  });

  test('a given dir is kept and a new registry on it serves the same content', async () => {
    await using tmp = await makeTempDir();
    const dir = `${tmp.path}/registry`;
    const first = await startRegistry({ dir });
    const pushed = await pushImage(first, 'kept:1', tinyImage({ files: { 'k.txt': 'kept\n' } }));
    await first.stop();
    assert.equal(processAlive(first.pid), false);
    assert.ok(existsSync(dir));
    const second = await startRegistry({ dir });
    try {
      const res = await getJson(`${second.url}/v2/kept/manifests/1`);
      assert.equal(res.res.headers.get('docker-content-digest'), pushed.manifestDigest);
    } finally {
      await second.stop();
    }
    assert.ok(existsSync(dir));
  });

  test('several registries run side by side on distinct ports', async () => {
    const registries = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    try {
      assert.equal(new Set(registries.map((r) => r.port)).size, 3);
    } finally {
      await Promise.all(registries.map((r) => r.stop()));
    }
    for (const r of registries) {
      assert.equal(processAlive(r.pid), false);
      assert.equal(existsSync(r.dir), false);
    }
  });

  test('freePort and makeTempDir', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const dir = await makeTempDir();
    assert.ok(existsSync(dir.path));
    await dir.remove();
    assert.equal(existsSync(dir.path), false);
  });
});
