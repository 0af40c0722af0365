// Images survive daemon restarts (graceful and kill -9), and a pull that a restart interrupts
// leaves nothing half-written behind once the daemon is up again.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import { sleep } from '../../src/util/sleep.ts';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { busyboxLikeImage, type ImageSpec, type PushResult, pushImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTamperingProxy, type TamperingProxy } from '../support/tampering-proxy.ts';
import type { TarEntry } from '../support/tar-writer.ts';
import {
  assertNoLeftovers,
  assertOnlyImageData,
  blobDigests,
  imageInfo,
  ingestFiles,
  readSnapshots,
  setUpAndTearDown,
  snapshotDirs,
  withImageTree,
} from './support.ts';

const HOST = 'restart.example.test';

let registry: TestRegistry;
let proxy: TamperingProxy;
let busybox: PushResult;
const daemons: TestDaemon[] = [];

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    proxy = await startTamperingProxy(registry);
    busybox = await pushImage(registry, 'busybox:1', busyboxLikeImage());
  },
  async () => {
    await proxy?.stop();
    await registry?.stop();
  },
);

afterEach(async () => {
  proxy?.clearRules();
  const leftovers: string[] = [];
  for (const daemon of daemons.splice(0)) leftovers.push(...(await daemon.stop()));
  assert.deepEqual(leftovers, [], 'no mounts left behind');
});

async function newDaemon(): Promise<TestDaemon> {
  const daemon = await startDaemon({ registries: { [HOST]: { mirrors: [proxy.url] } } });
  daemons.push(daemon);
  return daemon;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function blobGets(from: number): string[] {
  return proxy.requests
    .slice(from)
    .filter((r) => r.method === 'GET' && r.url.includes('/blobs/'))
    .map((r) => r.url);
}

interface Snapshot {
  images: unknown;
  status: unknown;
  blobs: string[];
  snapshots: unknown;
}

async function capture(daemon: TestDaemon, ref: string): Promise<Snapshot> {
  const { images } = await daemon.cri.image.listImages({});
  const status = await daemon.cri.image.imageStatus({ image: { image: ref }, verbose: true });
  return { images, status, blobs: await blobDigests(daemon.root), snapshots: await readSnapshots(daemon.root) };
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`images survive a ${signal === 'SIGTERM' ? 'graceful (SIGTERM)' : 'kill -9'} restart`, async () => {
    const daemon = await newDaemon();
    const ref = `${HOST}/busybox:1`;
    const pulled = await daemon.cri.image.pullImage({ image: { image: ref } });
    assert.equal(pulled.imageRef, busybox.configDigest);
    const before = await capture(daemon, ref);

    const pidFile = path.join(daemon.state, 'berth.pid');
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(daemon.pid));
    const exit = await daemon.terminate(signal);
    if (signal === 'SIGTERM') {
      assert.deepEqual(exit, { code: 0, signal: null }, 'a graceful stop exits 0');
      assert.equal(existsSync(pidFile), false, 'the pid file is removed on a graceful stop');
      assert.equal(existsSync(daemon.socket), false, 'the socket is removed on a graceful stop');
    } else {
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(existsSync(pidFile), 'kill -9 leaves the pid file (of a dead process)');
    }
    await daemon.restart();
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(daemon.pid));

    assert.deepEqual(await capture(daemon, ref), before, 'the same images, blobs and snapshots after the restart');
    const info = await imageInfo(daemon.cri.image, ref);
    await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
      assert.equal(await readFile(path.join(tree, 'etc/berth-release'), 'utf8'), 'layer 2\n');
      assert.equal(existsSync(path.join(tree, 'etc/to-be-removed')), false);
    });
    // Pulling again downloads nothing; removing still frees everything.
    const from = proxy.requests.length;
    assert.equal((await daemon.cri.image.pullImage({ image: { image: ref } })).imageRef, busybox.configDigest);
    assert.deepEqual(blobGets(from), []);
    await daemon.cri.image.removeImage({ image: { image: ref } });
    assert.deepEqual((await daemon.cri.image.listImages({})).images, []);
    assert.deepEqual(await blobDigests(daemon.root), []);
    assert.deepEqual(await readSnapshots(daemon.root), []);
    await assertNoLeftovers(daemon);
  });
}

test('a pull killed (kill -9) while a blob is half downloaded leaves nothing after the next start; the retry succeeds', async () => {
  const daemon = await newDaemon();
  const spec = busyboxLikeImage({ compression: 'none' });
  spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(2 * 1024 * 1024, 0x42) }] });
  const pushed = await pushImage(registry, 'interrupted/download:1', spec);
  const stalled = pushed.layerDigests[3] as string;
  proxy.tamper(new RegExp(`/blobs/${stalled}`), { kind: 'stall', seconds: 60, afterBytes: 1024 * 1024 }, { times: 1 });
  const ref = `${HOST}/interrupted/download:1`;
  const pull = daemon.cri.image.pullImage({ image: { image: ref } });
  pull.catch(() => {});

  // The first half of the blob sits in a temp file of the content store; the other layers are in.
  await waitFor('the half-written blob', async () => {
    for (const name of await ingestFiles(daemon.root)) {
      const st = await stat(path.join(daemon.root, 'content', 'ingest', name)).catch(() => undefined);
      if (st !== undefined && st.size >= 1024 * 1024) return true;
    }
    return false;
  });
  await waitFor('the other layers to be unpacked', async () => (await readSnapshots(daemon.root)).length >= 3);
  assert.equal((await blobDigests(daemon.root)).includes(stalled), false);
  await daemon.kill9();
  await assert.rejects(pull);
  assert.ok((await ingestFiles(daemon.root)).length > 0, 'the killed daemon left its temp file');

  proxy.clearRules();
  await daemon.restart();
  assert.deepEqual(await ingestFiles(daemon.root), [], 'the temp file is gone after the start');
  assert.deepEqual((await daemon.cri.image.listImages({})).images, []);
  // No image holds the layers of the interrupted pull: they are collected at the start.
  assert.deepEqual(await blobDigests(daemon.root), []);
  assert.deepEqual(await readSnapshots(daemon.root), []);
  assert.deepEqual(await snapshotDirs(daemon.root), []);
  await assertNoLeftovers(daemon, ref);

  assert.equal((await daemon.cri.image.pullImage({ image: { image: ref } })).imageRef, pushed.configDigest);
  const info = await imageInfo(daemon.cri.image, ref);
  await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
    assert.equal((await stat(path.join(tree, 'big'))).size, 2 * 1024 * 1024);
  });
  await assertNoLeftovers(daemon);
  await assertOnlyImageData(daemon);
});

test('a pull killed (kill -9) while it unpacks a layer leaves no snapshot or mount after the next start', async () => {
  const daemon = await newDaemon();
  // A second layer with many files takes a while to unpack (through an overlay mount on layer 1).
  const many: TarEntry[] = [{ type: 'dir', name: 'many/' }];
  for (let i = 0; i < 4000; i++) many.push({ type: 'file', name: `many/f${i}`, content: `${i}\n` });
  const spec: ImageSpec = {
    layers: [
      {
        entries: [
          { type: 'dir', name: 'etc/' },
          { type: 'file', name: 'etc/base', content: 'base\n' },
        ],
      },
      { entries: many },
    ],
  };
  const pushed = await pushImage(registry, 'interrupted/unpack:1', spec);
  const ref = `${HOST}/interrupted/unpack:1`;
  const pull = daemon.cri.image.pullImage({ image: { image: ref } });
  pull.catch(() => {});
  await waitFor(
    'the second layer being unpacked',
    async () =>
      (await readSnapshots(daemon.root)).some((s) => s.kind === 'active' && s.key.startsWith('extract-') && s.parent !== undefined),
    30_000,
  );
  // Wait until files arrive in the new layer's directory: the overlay mount is up.
  const extract = (await readSnapshots(daemon.root)).find((s) => s.kind === 'active');
  assert.ok(extract);
  const upper = path.join(daemon.root, 'snapshots', 'snapshots', String(extract.id), 'fs', 'many');
  await waitFor('files in the layer being unpacked', async () => existsSync(upper) && (await readdir(upper)).length > 10);
  assert.ok((await daemon.mounts()).length > 0, 'the layer is unpacked through a temporary mount');
  await daemon.kill9();
  await assert.rejects(pull);
  const active = (await readSnapshots(daemon.root)).filter((s) => s.kind === 'active');
  assert.equal(active.length, 1, 'the killed daemon left its half-unpacked snapshot');

  await daemon.restart();
  const snapshots = await readSnapshots(daemon.root);
  assert.deepEqual(
    snapshots.filter((s) => s.kind !== 'committed'),
    [],
    'no half-unpacked snapshot after the start',
  );
  assert.deepEqual(await snapshotDirs(daemon.root), snapshots.map((s) => String(s.id)).sort());
  assert.deepEqual(await daemon.mounts(), [], 'the temporary mount of the killed unpack is gone');
  await assertNoLeftovers(daemon, ref);

  assert.equal((await daemon.cri.image.pullImage({ image: { image: ref } })).imageRef, pushed.configDigest);
  const info = await imageInfo(daemon.cri.image, ref);
  await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
    assert.equal((await readdir(path.join(tree, 'many'))).length, 4000);
    assert.equal(await readFile(path.join(tree, 'etc/base'), 'utf8'), 'base\n');
  });
  await assertNoLeftovers(daemon);
  await assertOnlyImageData(daemon);
});

test('SIGTERM during a stalled pull: the daemon stops within its grace period; nothing is left after the next start', async () => {
  const daemon = await newDaemon();
  const spec = busyboxLikeImage({ compression: 'none' });
  spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(1024 * 1024, 0x43) }] });
  const pushed = await pushImage(registry, 'interrupted/sigterm:1', spec);
  const stalled = pushed.layerDigests[3] as string;
  proxy.tamper(new RegExp(`/blobs/${stalled}`), { kind: 'stall', seconds: 60, afterBytes: 512 * 1024 }, { times: 1 });
  const ref = `${HOST}/interrupted/sigterm:1`;
  const pull = daemon.cri.image.pullImage({ image: { image: ref } });
  pull.catch(() => {});
  await waitFor('the stalled download', () => proxy.requests.some((r) => r.url.includes(stalled) && r.tampered === 'stall'));
  // SIGKILL only after 30 s (the stall lasts 60 s, the daemon's grace period is 10 s): an exit by
  // itself, code 0, is a daemon that ended the stalled pull instead of waiting for it.
  const exit = await daemon.terminate('SIGTERM', 30_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  await assert.rejects(pull);
  proxy.clearRules();
  await daemon.restart();
  await assertNoLeftovers(daemon, ref);
  assert.equal((await daemon.cri.image.pullImage({ image: { image: ref } })).imageRef, pushed.configDigest);
});

test('SIGTERM while a pull runs: the pull finishes within the grace period and the image is there after the restart', {}, async () => {
  const daemon = await newDaemon();
  const pushed = await pushImage(registry, 'interrupted/graceful:1', {
    layers: [{ entries: [{ type: 'file', name: 'graceful', content: 'finished during shutdown\n' }] }],
  });
  const layer = pushed.layerDigests[0] as string;
  proxy.tamper(new RegExp(`/blobs/${layer}`), { kind: 'delay', ms: 1500 }, { times: 1 });
  const ref = `${HOST}/interrupted/graceful:1`;
  const pull = daemon.cri.image.pullImage({ image: { image: ref } });
  pull.catch(() => {});
  await waitFor('the layer download', () => proxy.requests.some((r) => r.url.includes(layer)));
  const exit = await daemon.terminate('SIGTERM', 30_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal((await pull).imageRef, pushed.configDigest, 'the pull in flight completes');
  await daemon.restart();
  assert.equal((await daemon.cri.image.imageStatus({ image: { image: ref } })).image?.id, pushed.configDigest);
  await assertNoLeftovers(daemon);
});
