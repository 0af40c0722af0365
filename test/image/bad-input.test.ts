// PullImage with bad input and misbehaving registries: each failure has the right gRPC code and
// a clear message, the daemon keeps serving, and nothing half-written remains.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, before, describe, test } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import {
  buildImage,
  type ImageSpec,
  pathTraversalEntries,
  pathTraversalLayer,
  pushImage,
  pushIndex,
  tinyImage,
  withWrongConfigSize,
  withWrongDiffId,
  withWrongLayerDigest,
  withWrongLayerSize,
} from '../support/image-builder.ts';
import { freePort } from '../support/ports.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTamperingProxy, type TamperingProxy } from '../support/tampering-proxy.ts';
import type { TarEntry } from '../support/tar-writer.ts';
import { assertNoLeftovers, blobDigests, expectCriError, imageInfo, setUpAndTearDown, withImageTree } from './support.ts';

const PROGRESS_TIMEOUT_MS = 2000;

let registry: TestRegistry;
let proxy: TamperingProxy;
let daemon: TestDaemon;
let unreachable: string;

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    proxy = await startTamperingProxy(registry);
    unreachable = `127.0.0.1:${await freePort()}`;
    daemon = await startDaemon({
      registries: {
        [registry.host]: { mirrors: [], insecure: true },
        [proxy.host]: { mirrors: [], insecure: true },
        [unreachable]: { mirrors: [], insecure: true },
      },
      extraConfig: `[image]\npull_progress_timeout = "${PROGRESS_TIMEOUT_MS / 1000}s"\n`,
    });
  },
  async () => {
    const left = await daemon?.stop();
    await proxy?.stop();
    await registry?.stop();
    assert.deepEqual(left ?? [], []);
  },
);

afterEach(() => {
  proxy?.clearRules();
});

const image = () => daemon.cri.image;
const pull = (ref: string) => image().pullImage({ image: { image: ref } });

/** A one-layer image with its own content, so that no other test has its blobs. */
function uniqueImage(name: string, extra: Partial<ImageSpec> = {}): ImageSpec {
  return { ...tinyImage({ files: { [`${name}.txt`]: `${name}\n` } }), ...extra };
}

describe('bad references and unknown images', () => {
  test('a malformed reference: INVALID_ARGUMENT', async () => {
    for (const ref of ['', '   ', 'UPPER/case:1', 'busybox:bad tag', 'busybox@sha256:123', 'a//b', ':tag', 'busybox:', 'http://x/y']) {
      await expectCriError(pull(ref), 'INVALID_ARGUMENT');
    }
    await expectCriError(image().removeImage({ image: { image: '' } }), 'INVALID_ARGUMENT');
    await expectCriError(image().imageStatus({ image: { image: '' } }), 'INVALID_ARGUMENT');
    await assertNoLeftovers(daemon);
  });

  test('an unknown tag or repository: NOT_FOUND', async () => {
    await pushImage(registry, 'known/repo:1', uniqueImage('known'));
    for (const ref of [
      `${registry.host}/known/repo:2`,
      `${registry.host}/unknown/repo:1`,
      `${registry.host}/known/repo@sha256:${'a'.repeat(64)}`,
    ]) {
      const error = await expectCriError(pull(ref), 'NOT_FOUND');
      assert.match(error.message, /not found/);
      await assertNoLeftovers(daemon, ref);
    }
  });

  test('a manifest whose blob is missing in the registry: NOT_FOUND', async () => {
    const built = buildImage(uniqueImage('missing-blob'));
    const pushed = await pushImage(registry, 'missing/blob:1', built);
    // The registry answers 404 for this layer only (the manifest still names it).
    proxy.tamper(new RegExp(`/blobs/${pushed.layerDigests[0]}`), { kind: 'status', status: 404 });
    const ref = `${proxy.host}/missing/blob:1`;
    await expectCriError(pull(ref), 'NOT_FOUND');
    await assertNoLeftovers(daemon, ref);
  });
});

describe('content that does not match its digest', () => {
  test('a registry that answers another manifest for a digest: FAILED_PRECONDITION', async () => {
    const pushed = await pushImage(registry, 'mismatch/manifest:1', uniqueImage('mismatch-manifest'));
    const other = buildImage(uniqueImage('mismatch-manifest-other'));
    proxy.tamper(
      /\/manifests\//,
      { kind: 'status', status: 200, body: other.manifest.bytes.toString('utf8'), headers: { 'Content-Type': other.manifest.mediaType } },
      { method: 'GET', times: 1 },
    );
    const ref = `${proxy.host}/mismatch/manifest@${pushed.manifestDigest}`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
    assert.equal(error.code, 'digest-mismatch');
    await assertNoLeftovers(daemon, ref);
    // Untampered, it pulls.
    assert.equal((await pull(ref)).imageRef, pushed.configDigest);
  });

  test('a manifest fetched by digest with corrupt bytes: FAILED_PRECONDITION', {}, async () => {
    const pushed = await pushImage(registry, 'mismatch/manifest-bytes:1', uniqueImage('mismatch-manifest-bytes'));
    proxy.tamper(/\/manifests\//, { kind: 'corrupt' }, { method: 'GET', times: 1 });
    const ref = `${proxy.host}/mismatch/manifest-bytes@${pushed.manifestDigest}`;
    try {
      const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
      assert.equal(error.code, 'digest-mismatch');
    } finally {
      await assertNoLeftovers(daemon, ref);
    }
  });

  test('a platform manifest of an index whose bytes do not match: FAILED_PRECONDITION', async () => {
    const pushed = await pushIndex(registry, 'mismatch/index:1', {
      manifests: [{ image: uniqueImage('mismatch-index', { annotations: { pad: 'y'.repeat(64) } }) }],
    });
    const child = pushed.images[0];
    assert.ok(child);
    const offset = child.image.manifest.bytes.indexOf('y'.repeat(64)) + 10;
    proxy.tamper(new RegExp(`/manifests/${child.manifestDigest}`), { kind: 'corrupt', offset }, { method: 'GET', times: 1 });
    const ref = `${proxy.host}/mismatch/index:1`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
    assert.equal(error.code, 'digest-mismatch');
    await assertNoLeftovers(daemon, ref);
  });

  test('a layer blob stored corrupt in the registry: FAILED_PRECONDITION', async () => {
    const pushed = await pushImage(registry, 'mismatch/layer:1', uniqueImage('mismatch-layer'));
    const layer = pushed.layerDigests[0] as string;
    await registry.corruptStoredBlob(layer);
    const ref = `${registry.host}/mismatch/layer:1`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
    assert.equal(error.code, 'digest-mismatch');
    assert.ok(error.message.includes(layer), 'the message names the blob');
    assert.equal((await blobDigests(daemon.root)).includes(layer), false, 'the bad blob is not stored');
    await assertNoLeftovers(daemon, ref);
  });

  test('a config blob corrupted on the way: FAILED_PRECONDITION', async () => {
    const pushed = await pushImage(registry, 'mismatch/config:1', uniqueImage('mismatch-config'));
    proxy.tamper(new RegExp(`/blobs/${pushed.configDigest}`), { kind: 'corrupt' }, { times: 1 });
    const ref = `${proxy.host}/mismatch/config:1`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
    assert.equal(error.code, 'digest-mismatch');
    await assertNoLeftovers(daemon, ref);
  });

  test('a layer corrupted on the way, then a retry: FAILED_PRECONDITION, then pulled', async () => {
    const spec = uniqueImage('mismatch-transit');
    spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(300 * 1024, 3) }] });
    const pushed = await pushImage(registry, 'mismatch/transit:1', spec);
    proxy.tamper(new RegExp(`/blobs/${pushed.layerDigests[1]}`), { kind: 'corrupt' }, { times: 1 });
    const ref = `${proxy.host}/mismatch/transit:1`;
    await expectCriError(pull(ref), 'FAILED_PRECONDITION', /digest/);
    await assertNoLeftovers(daemon, ref);
    assert.equal((await pull(ref)).imageRef, pushed.configDigest);
  });

  test('a layer descriptor with the wrong size: FAILED_PRECONDITION', async () => {
    const built = withWrongLayerSize(buildImage(uniqueImage('wrong-size')), 0);
    await pushImage(registry, 'mismatch/size:1', built);
    const ref = `${registry.host}/mismatch/size:1`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /bytes/);
    assert.equal(error.code, 'size-mismatch');
    await assertNoLeftovers(daemon, ref);
  });

  test('a config descriptor with the wrong size: FAILED_PRECONDITION', async () => {
    const built = withWrongConfigSize(buildImage(uniqueImage('wrong-config-size')));
    await pushImage(registry, 'mismatch/config-size:1', built);
    const ref = `${registry.host}/mismatch/config-size:1`;
    await expectCriError(pull(ref), 'FAILED_PRECONDITION', /bytes/);
    await assertNoLeftovers(daemon, ref);
  });

  test('a layer that does not unpack to the diff_id of the config: FAILED_PRECONDITION', async () => {
    const built = withWrongDiffId(buildImage(uniqueImage('wrong-diffid')), 0);
    await pushImage(registry, 'mismatch/diffid:1', built);
    const ref = `${registry.host}/mismatch/diffid:1`;
    const error = await expectCriError(pull(ref), 'FAILED_PRECONDITION', /diff/i);
    assert.match(error.code, /diff-?id-mismatch/);
    await assertNoLeftovers(daemon, ref);
  });

  test('a layer descriptor naming a blob that is no layer: INVALID_ARGUMENT', async () => {
    const built = withWrongLayerDigest(buildImage(uniqueImage('wrong-digest')), 0);
    await pushImage(registry, 'mismatch/decoy:1', built);
    const ref = `${registry.host}/mismatch/decoy:1`;
    await expectCriError(pull(ref), 'INVALID_ARGUMENT', /layer/);
    await assertNoLeftovers(daemon, ref);
  });
});

describe('broken transfers', () => {
  test('a truncated blob fails the pull; the retry, untampered, succeeds', async () => {
    const spec = uniqueImage('truncated');
    spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(400 * 1024, 9) }] });
    spec.compression = 'none';
    const pushed = await pushImage(registry, 'broken/truncated:1', spec);
    proxy.tamper(new RegExp(`/blobs/${pushed.layerDigests[1]}`), { kind: 'truncate' }, { times: 1 });
    const ref = `${proxy.host}/broken/truncated:1`;
    const error = await expectCriError(pull(ref), 'UNAVAILABLE');
    assert.match(error.message, /broke off|interrupted|closed|aborted/i);
    await assertNoLeftovers(daemon, ref);
    assert.equal((await pull(ref)).imageRef, pushed.configDigest);
    await assertNoLeftovers(daemon);
  });

  test(`a registry that stalls mid-blob: DEADLINE_EXCEEDED from the ${PROGRESS_TIMEOUT_MS} ms progress timeout`, async () => {
    const spec = uniqueImage('stall-body');
    spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(200 * 1024, 5) }] });
    spec.compression = 'none';
    const pushed = await pushImage(registry, 'broken/stall-body:1', spec);
    proxy.tamper(new RegExp(`/blobs/${pushed.layerDigests[1]}`), { kind: 'stall', seconds: 30, afterBytes: 50_000 }, { times: 1 });
    const ref = `${proxy.host}/broken/stall-body:1`;
    // The no-progress timer ended it (the stall itself lasts 30 s).
    const error = await expectCriError(pull(ref), 'DEADLINE_EXCEEDED', /stalled|no data/);
    assert.equal(error.code, 'no-progress');
    await assertNoLeftovers(daemon, ref);
    assert.equal((await pull(ref)).imageRef, pushed.configDigest);
  });

  test('a registry that sends no response: DEADLINE_EXCEEDED after the progress timeout', async () => {
    const pushed = await pushImage(registry, 'broken/stall-headers:1', uniqueImage('stall-headers'));
    proxy.tamper(/\/manifests\//, { kind: 'delay', ms: 20_000 }, { times: 1 });
    const ref = `${proxy.host}/broken/stall-headers:1`;
    await expectCriError(pull(ref), 'DEADLINE_EXCEEDED');
    // It gave up while the registry still held the answer back (20 s): no response was ever sent.
    const delayed = proxy.requests.filter((r) => r.tampered === 'delay');
    assert.ok(delayed.length > 0 && delayed.every((r) => r.status === undefined), 'the delayed request is still in flight');
    await assertNoLeftovers(daemon, ref);
    // A blob that never starts, too.
    proxy.tamper(new RegExp(`/blobs/${pushed.layerDigests[0]}`), { kind: 'delay', ms: 20_000 }, { times: 1 });
    await expectCriError(pull(ref), 'DEADLINE_EXCEEDED');
    await assertNoLeftovers(daemon, ref);
  });

  test('a registry that cannot be reached: UNAVAILABLE', async () => {
    const ref = `${unreachable}/nobody/home:1`;
    const error = await expectCriError(pull(ref), 'UNAVAILABLE', /reach|refused/i);
    assert.ok(error.message.includes(unreachable), error.message);
    await assertNoLeftovers(daemon, ref);
  });

  test('a registry that answers 500 or 429, or resets the connection: UNAVAILABLE', async () => {
    await pushImage(registry, 'broken/status:1', uniqueImage('status'));
    const ref = `${proxy.host}/broken/status:1`;
    for (const action of [{ kind: 'status', status: 503 }, { kind: 'status', status: 429 }, { kind: 'reset' }] as const) {
      proxy.tamper(/\/manifests\//, action, { times: 1 });
      await expectCriError(pull(ref), 'UNAVAILABLE');
      await assertNoLeftovers(daemon, ref);
    }
  });
});

describe('layers that try to leave their root', () => {
  // Sensitive places on the host that an escaping entry would hit.
  const victims = ['/etc/passwd', '/etc/hostname'];
  let fingerprints: Map<string, string>;

  before(async () => {
    fingerprints = new Map();
    for (const file of victims) {
      if (!existsSync(file)) continue;
      const st = await stat(file);
      fingerprints.set(
        file,
        `${st.ino}:${st.nlink}:${st.mtimeMs}:${createHash('sha256')
          .update(await readFile(file))
          .digest('hex')}`,
      );
    }
  });

  async function assertNothingOutside(): Promise<void> {
    for (const [file, print] of fingerprints) {
      const st = await stat(file);
      const now = `${st.ino}:${st.nlink}:${st.mtimeMs}:${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')}`;
      assert.equal(now, print, `${file} untouched`);
    }
    for (const name of [
      '/tmp/berth-evil-deep',
      '/tmp/berth-evil-through-symlink',
      '/tmp/berth-evil-through-abs-symlink',
      '/evil-parent',
      '/evil-inner',
    ]) {
      assert.equal(existsSync(name), false, `${name} must not exist`);
    }
    // Nothing named evil anywhere under the daemon's dir but inside committed layers.
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.name.includes('evil') && !/\/snapshots\/snapshots\/\d+\/fs\//.test(full)) found.push(full);
        if (entry.isDirectory()) await walk(full);
      }
    };
    await walk(daemon.dir);
    assert.deepEqual(found, []);
  }

  test('the whole path traversal layer: INVALID_ARGUMENT, nothing written outside', async () => {
    for (const compression of ['gzip', 'none'] as const) {
      const pushed = await pushImage(registry, `evil/all:${compression}`, { layers: [pathTraversalLayer(compression)] });
      const ref = `${registry.host}/evil/all:${compression}`;
      const error = await expectCriError(pull(ref), 'INVALID_ARGUMENT', /layer entry/);
      assert.equal(error.code, 'layer-path-escape');
      assert.ok(pushed.layerDigests.length === 1);
      await assertNoLeftovers(daemon, ref);
      await assertNothingOutside();
    }
  });

  test('the same entries below a first layer (unpacked through an overlay mount)', async () => {
    const base: TarEntry[] = [
      { type: 'dir', name: 'ok/' },
      { type: 'dir', name: 'tmp/' },
      { type: 'dir', name: 'etc/' },
      { type: 'file', name: 'etc/hostname', content: 'inside\n' },
    ];
    const pushed = await pushImage(registry, 'evil/second:1', { layers: [{ entries: base }, pathTraversalLayer()] });
    const ref = `${registry.host}/evil/second:1`;
    await expectCriError(pull(ref), 'INVALID_ARGUMENT', /layer entry/);
    assert.ok(pushed);
    await assertNoLeftovers(daemon, ref);
    await assertNothingOutside();
  });

  // Each escape on its own (a layer is refused at its first bad entry). Names that stay inside
  // once cleaned (a leading "/", an absolute symlink target, which starts again at the root) are
  // accepted, as Docker and containerd do, and must land inside the layer.
  const entries = pathTraversalEntries();
  const byName = (name: string): TarEntry => {
    const entry = entries.find((e) => e.name === name);
    assert.ok(entry, name);
    return entry;
  };
  const cases: { name: string; entries: TarEntry[]; inside?: string }[] = [
    { name: 'parent', entries: [byName('../evil-parent')] },
    { name: 'deep-parent', entries: [byName('../../../../../../tmp/berth-evil-deep')] },
    { name: 'inner-parent', entries: [{ type: 'dir', name: 'ok/' }, byName('ok/../../evil-inner')] },
    { name: 'through-symlink', entries: [byName('link-out'), byName('link-out/tmp/berth-evil-through-symlink')] },
    { name: 'hardlink-out', entries: [byName('hardlink-out')] },
    { name: 'absolute', entries: [byName('/evil-absolute')], inside: 'evil-absolute' },
    {
      name: 'through-abs-symlink',
      entries: [{ type: 'dir', name: 'tmp/' }, byName('abs-link'), byName('abs-link/berth-evil-through-abs-symlink')],
      inside: 'tmp/berth-evil-through-abs-symlink',
    },
    {
      name: 'hardlink-abs',
      entries: [{ type: 'dir', name: 'etc/' }, { type: 'file', name: 'etc/hostname', content: 'inside\n' }, byName('hardlink-abs')],
      inside: 'hardlink-abs',
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.inside === undefined ? 'INVALID_ARGUMENT' : 'kept inside the layer'}`, async () => {
      const pushed = await pushImage(registry, `evil/${c.name}:1`, { layers: [{ entries: c.entries }] });
      const ref = `${registry.host}/evil/${c.name}:1`;
      if (c.inside === undefined) {
        const error = await expectCriError(pull(ref), 'INVALID_ARGUMENT');
        assert.match(error.message, /layer entry/);
        await assertNoLeftovers(daemon, ref);
      } else {
        assert.equal((await pull(ref)).imageRef, pushed.configDigest);
        const info = await imageInfo(image(), pushed.configDigest);
        await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
          assert.ok(existsSync(path.join(tree, c.inside as string)), `${c.inside} inside the layer`);
        });
        await image().removeImage({ image: { image: pushed.configDigest } });
      }
      await assertNothingOutside();
    });
  }
});
