// PullImage, ListImages, ImageStatus, RemoveImage and ImageFsInfo against a real registry,
// through a real `berth daemon` over CRI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { waitFor } from '../agent/support/wait-for.ts';
import { type DaemonRegistryConfig, startDaemon, type TestDaemon } from '../support/daemon.ts';
import {
  buildImage,
  busyboxLikeImage,
  type IndexPushResult,
  type PushResult,
  pushImage,
  pushIndex,
  tinyImage,
} from '../support/image-builder.ts';
import { freePort } from '../support/ports.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTamperingProxy, type TamperingProxy } from '../support/tampering-proxy.ts';
import type { TarEntry } from '../support/tar-writer.ts';
import {
  assertNoLeftovers,
  assertOnlyImageData,
  blobDigests,
  blobPath,
  chainOf,
  imageFsUsage,
  imageInfo,
  readSnapshots,
  setUpAndTearDown,
  snapshotFsDir,
  withImageTree,
} from './support.ts';

const MIRRORED = 'registry.example.test';
const VIA_PROXY = 'proxied.example.test';
const FALLBACK = 'fallback.example.test';
const AMD64 = { os: 'linux', architecture: 'amd64' };

let registry: TestRegistry;
let proxy: TamperingProxy;
let daemon: TestDaemon;
let busybox: PushResult;
let emptyRegistry: TestRegistry;
let deadEndpoint: string;

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    proxy = await startTamperingProxy(registry);
    emptyRegistry = await startRegistry();
    deadEndpoint = `127.0.0.1:${await freePort()}`;
    busybox = await pushImage(registry, 'library/busybox:latest', busyboxLikeImage());
    const registries: Record<string, DaemonRegistryConfig> = {
      'docker.io': { mirrors: [registry.url] },
      [MIRRORED]: { mirrors: [registry.url] },
      [VIA_PROXY]: { mirrors: [proxy.url] },
      [registry.host]: { mirrors: [], insecure: true },
      // The first mirror refuses connections, the second has nothing: the third has the image.
      [FALLBACK]: { mirrors: [`http://${deadEndpoint}`, emptyRegistry.url, registry.url] },
    };
    daemon = await startDaemon({ registries });
  },
  async () => {
    const left = await daemon?.stop();
    await proxy?.stop();
    await registry?.stop();
    await emptyRegistry?.stop();
    assert.deepEqual(left ?? [], [], 'the daemon left no mounts behind');
  },
);

const image = () => daemon.cri.image;

async function pull(ref: string): Promise<string> {
  const res = await image().pullImage({ image: { image: ref } });
  return res.imageRef;
}

async function remove(ref: string): Promise<void> {
  await image().removeImage({ image: { image: ref } });
}

async function listedIds(): Promise<string[]> {
  return (await image().listImages({})).images.map((i) => i.id);
}

describe('pull by name', () => {
  test('a familiar name (busybox) pulls docker.io/library/busybox:latest through the docker.io mirror', async () => {
    const id = await pull('busybox');
    assert.equal(id, busybox.configDigest);
    const status = await image().imageStatus({ image: { image: 'busybox' } });
    assert.ok(status.image);
    assert.equal(status.image.id, busybox.configDigest);
    assert.deepEqual(status.image.repoTags, ['docker.io/library/busybox:latest']);
    assert.deepEqual(status.image.repoDigests, [`docker.io/library/busybox@${busybox.manifestDigest}`]);
    assert.equal(status.image.size, BigInt(busybox.totalSize - busybox.image.manifest.size));
    assert.equal(status.image.spec?.image, busybox.configDigest);
    await assertNoLeftovers(daemon);
  });

  test('the canonical name and the tag, by digest, familiar and canonical, resolve to the same image', async () => {
    await pull('busybox');
    for (const ref of [
      'docker.io/library/busybox:latest',
      'busybox:latest',
      'library/busybox',
      `busybox@${busybox.manifestDigest}`,
      `docker.io/library/busybox@${busybox.manifestDigest}`,
      busybox.configDigest,
      busybox.configDigest.slice('sha256:'.length, 'sha256:'.length + 12),
    ]) {
      const status = await image().imageStatus({ image: { image: ref } });
      assert.equal(status.image?.id, busybox.configDigest, `ImageStatus(${ref})`);
    }
    // Pulling again by digest and canonical name: same image, no new one.
    assert.equal(await pull(`docker.io/library/busybox@${busybox.manifestDigest}`), busybox.configDigest);
    assert.equal(await pull('docker.io/library/busybox:latest'), busybox.configDigest);
    assert.equal((await listedIds()).filter((id) => id === busybox.configDigest).length, 1);
  });

  test('a made-up host through its mirror, by tag and by digest', async () => {
    const pushed = await pushImage(registry, 'team/app:1.0', tinyImage({ files: { 'app.txt': 'mirrored\n' } }));
    const id = await pull(`${MIRRORED}/team/app:1.0`);
    assert.equal(id, pushed.configDigest);
    const status = await image().imageStatus({ image: { image: `${MIRRORED}/team/app:1.0` } });
    assert.deepEqual(status.image?.repoTags, [`${MIRRORED}/team/app:1.0`]);
    assert.deepEqual(status.image?.repoDigests, [`${MIRRORED}/team/app@${pushed.manifestDigest}`]);

    const byDigest = await pushImage(registry, 'team/other:2', tinyImage({ files: { 'other.txt': 'by digest\n' } }));
    assert.equal(await pull(`${MIRRORED}/team/other@${byDigest.manifestDigest}`), byDigest.configDigest);
    const s2 = await image().imageStatus({ image: { image: `${MIRRORED}/team/other@${byDigest.manifestDigest}` } });
    assert.deepEqual(s2.image?.repoTags, [], 'a pull by digest adds no tag');
    assert.deepEqual(s2.image?.repoDigests, [`${MIRRORED}/team/other@${byDigest.manifestDigest}`]);
    // The registry host itself (plain HTTP, configured insecure), by tag.
    assert.equal(await pull(`${registry.host}/team/app:1.0`), pushed.configDigest);
    const merged = await image().imageStatus({ image: { image: pushed.configDigest } });
    assert.deepEqual(merged.image?.repoTags.sort(), [`${MIRRORED}/team/app:1.0`, `${registry.host}/team/app:1.0`].sort());
  });
});

describe('mirrors and tags', () => {
  test('mirrors are tried in order: one that cannot be reached and one without the image are skipped', async () => {
    const pushed = await pushImage(registry, 'fallback/app:1', tinyImage({ files: { fallback: '1\n' } }));
    assert.equal(await pull(`${FALLBACK}/fallback/app:1`), pushed.configDigest);
    const status = await image().imageStatus({ image: { image: `${FALLBACK}/fallback/app:1` } });
    assert.deepEqual(status.image?.repoTags, [`${FALLBACK}/fallback/app:1`]);
  });

  test('a tag that moves to another image: the new pull takes the tag, the old image stays by digest', async () => {
    const first = await pushImage(registry, 'moving/tag:latest', tinyImage({ files: { version: '1\n' } }));
    assert.equal(await pull(`${MIRRORED}/moving/tag`), first.configDigest);
    const second = await pushImage(registry, 'moving/tag:latest', tinyImage({ files: { version: '2\n' } }));
    assert.equal(await pull(`${MIRRORED}/moving/tag:latest`), second.configDigest);
    const old = await image().imageStatus({ image: { image: first.configDigest } });
    assert.deepEqual(old.image?.repoTags, [], 'the old image lost its tag');
    assert.deepEqual(old.image?.repoDigests, [`${MIRRORED}/moving/tag@${first.manifestDigest}`]);
    const current = await image().imageStatus({ image: { image: `${MIRRORED}/moving/tag:latest` } });
    assert.equal(current.image?.id, second.configDigest);
    await remove(first.configDigest);
    await remove(second.configDigest);
  });

  test('a reference with a tag and a digest: the digest decides, the unconfirmed tag is not recorded', {}, async () => {
    const pushed = await pushImage(registry, 'tag-and-digest/app:1', tinyImage({ files: { both: '1\n' } }));
    const ref = `${MIRRORED}/tag-and-digest/app:not-in-registry@${pushed.manifestDigest}`;
    assert.equal(await pull(ref), pushed.configDigest);
    try {
      const status = await image().imageStatus({ image: { image: pushed.configDigest } });
      assert.deepEqual(status.image?.repoDigests, [`${MIRRORED}/tag-and-digest/app@${pushed.manifestDigest}`]);
      assert.deepEqual(status.image?.repoTags, []);
    } finally {
      await remove(pushed.configDigest);
    }
  });
});

describe('unpacked layers', () => {
  test('the busybox-like image: whiteout, opaque dir, hard links, symlinks, modes, owners, times', async () => {
    assert.equal(await pull('busybox'), busybox.configDigest);
    const info = await imageInfo(image(), 'busybox');
    assert.equal(info.layers.length, 3);
    assert.deepEqual(
      info.layers.map((l) => l.diffId),
      busybox.diffIds,
    );
    const chain = await chainOf(daemon.root, info.chainID);
    assert.equal(chain.length, 3, 'one committed snapshot per layer');
    assert.deepEqual(
      chain.map((s) => s.labels['berth/layer']),
      busybox.layerDigests,
    );
    const mtime = 1_704_067_200;
    await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
      const p = (name: string) => path.join(tree, name);
      // Whiteout (layer 3) removed the file of layer 1.
      assert.equal(existsSync(p('etc/to-be-removed')), false, 'whiteout removes /etc/to-be-removed');
      assert.equal(existsSync(p('etc/.wh.to-be-removed')), false, 'no whiteout file shows');
      // Opaque dir: only layer 3's entry remains.
      assert.deepEqual((await readdir(p('opt/replaced'))).sort(), ['c']);
      assert.equal(await readFile(p('opt/replaced/c'), 'utf8'), 'c from layer 3\n');
      // Upper layers win.
      assert.equal(await readFile(p('etc/berth-release'), 'utf8'), 'layer 2\n');
      assert.equal(await readFile(p('etc/berth-platform'), 'utf8'), 'linux/amd64\n');
      assert.equal(await readFile(p('usr/share/berth/hello.txt'), 'utf8'), 'hello from layer 2\n');
      // Hard links share one inode.
      const bb = await stat(p('bin/busybox'));
      for (const applet of ['sh', 'ls', 'cat', '[']) {
        const st = await stat(p(`bin/${applet}`));
        assert.equal(st.ino, bb.ino, `bin/${applet} is a hard link of bin/busybox`);
      }
      assert.ok(bb.nlink > 50, `busybox has ${bb.nlink} links`);
      assert.equal(bb.mode & 0o7777, 0o755);
      assert.ok(bb.size > 100_000);
      // Symlinks keep their target.
      const env = await lstat(p('usr/bin/env'));
      assert.ok(env.isSymbolicLink());
      assert.equal(await readlink(p('usr/bin/env')), '/bin/busybox');
      // Modes and owners.
      assert.equal((await stat(p('tmp'))).mode & 0o7777, 0o1777);
      assert.equal((await stat(p('root'))).mode & 0o7777, 0o700);
      const home = await stat(p('home/app'));
      assert.equal(home.uid, 1000);
      assert.equal(home.gid, 1000);
      const run = await stat(p('app/run.sh'));
      assert.equal(run.mode & 0o7777, 0o755);
      assert.equal((await stat(p('etc/passwd'))).uid, 0);
      // Times from the tar headers (files and directories).
      assert.equal(Math.floor((await stat(p('etc/passwd'))).mtimeMs / 1000), mtime);
      assert.equal(Math.floor((await stat(p('home/app'))).mtimeMs / 1000), mtime);
      assert.equal(Math.floor((await lstat(p('usr/bin/env'))).mtimeMs / 1000), mtime);
    });
    // On disk, layer 3's own directory records the deletion as an overlay whiteout (0:0 char device).
    const top = chain[2];
    assert.ok(top);
    const wh = await lstat(path.join(snapshotFsDir(daemon.root, top.id), 'etc/to-be-removed'));
    assert.ok(wh.isCharacterDevice(), 'whiteout is a character device in the layer dir');
    assert.equal(wh.rdev, 0);
    // The layer dirs of layer 1 hold the hard links as such.
    const bottom = chain[0];
    assert.ok(bottom);
    const l1 = snapshotFsDir(daemon.root, bottom.id);
    assert.equal((await stat(path.join(l1, 'bin/sh'))).ino, (await stat(path.join(l1, 'bin/busybox'))).ino);
  });

  test('device nodes, fifos, xattrs and setuid bits', async () => {
    const entries: TarEntry[] = [
      { type: 'dir', name: 'dev/' },
      { type: 'char', name: 'dev/null', devmajor: 1, devminor: 3, mode: 0o666 },
      { type: 'block', name: 'dev/loop9', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
      { type: 'fifo', name: 'dev/pipe', mode: 0o600 },
      { type: 'file', name: 'xattr.txt', content: 'x', xattrs: { 'user.berth': 'yes' } },
      { type: 'file', name: 'suid', content: 'x', mode: 0o4755 },
      { type: 'dir', name: 'sticky/', mode: 0o1777, uid: 12, gid: 34 },
    ];
    const pushed = await pushImage(registry, 'special:1', { layers: [{ entries }] });
    await pull(`${MIRRORED}/special:1`);
    const info = await imageInfo(image(), pushed.configDigest);
    await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
      const nul = await lstat(path.join(tree, 'dev/null'));
      assert.ok(nul.isCharacterDevice());
      assert.equal(nul.rdev, (1 << 8) | 3);
      assert.equal(nul.mode & 0o7777, 0o666);
      const loop = await lstat(path.join(tree, 'dev/loop9'));
      assert.ok(loop.isBlockDevice());
      assert.equal(loop.rdev, (7 << 8) | 9);
      assert.equal(loop.gid, 6);
      assert.ok((await lstat(path.join(tree, 'dev/pipe'))).isFIFO());
      assert.equal((await stat(path.join(tree, 'suid'))).mode & 0o7777, 0o4755);
      const sticky = await stat(path.join(tree, 'sticky'));
      assert.equal(sticky.mode & 0o7777, 0o1777);
      assert.equal(sticky.uid, 12);
      assert.equal(sticky.gid, 34);
      if (existsSync('/usr/bin/getfattr')) {
        const out = execFileSync('/usr/bin/getfattr', ['--only-values', '-n', 'user.berth', path.join(tree, 'xattr.txt')], {
          encoding: 'utf8',
        });
        assert.equal(out, 'yes');
      }
    });
  });

  for (const format of ['oci', 'docker'] as const) {
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      test(`${format} manifest with ${compression} layers`, async () => {
        const spec = busyboxLikeImage({ format, compression });
        // A marker so that every variant has its own layers.
        spec.layers.push({ entries: [{ type: 'file', name: 'variant', content: `${format}-${compression}\n` }] });
        const pushed = await pushImage(registry, `variants/${format}:${compression}`, spec);
        assert.equal(await pull(`${MIRRORED}/variants/${format}:${compression}`), pushed.configDigest);
        const info = await imageInfo(image(), pushed.configDigest);
        assert.deepEqual(
          info.layers.map((l) => l.mediaType),
          pushed.image.layers.map((l) => l.mediaType),
        );
        assert.equal(info.manifestDigest, pushed.manifestDigest);
        await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
          assert.equal(await readFile(path.join(tree, 'variant'), 'utf8'), `${format}-${compression}\n`);
          assert.equal(await readFile(path.join(tree, 'etc/berth-release'), 'utf8'), 'layer 2\n');
          assert.equal(existsSync(path.join(tree, 'etc/to-be-removed')), false);
        });
      });
    }
  }
});

describe('indexes and manifest lists', () => {
  for (const format of ['oci', 'docker'] as const) {
    test(`a ${format === 'oci' ? 'OCI image index' : 'Docker manifest list'} resolves to linux/amd64`, async () => {
      const platforms = [
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 's390x' },
        { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' },
      ];
      const pushed: IndexPushResult = await pushIndex(registry, `multi/${format}:1`, {
        format,
        manifests: platforms.map((platform) => ({ image: tinyImage({ platform, format, files: { format } }) })),
      });
      const amd64 = pushed.images[1];
      assert.ok(amd64);
      assert.deepEqual(amd64.image.platform, AMD64);
      const id = await pull(`${MIRRORED}/multi/${format}:1`);
      assert.equal(id, amd64.configDigest);
      const status = await image().imageStatus({ image: { image: `${MIRRORED}/multi/${format}:1` }, verbose: true });
      // The repo digest is the one of the index, as kubelet and crictl expect.
      assert.deepEqual(status.image?.repoDigests, [`${MIRRORED}/multi/${format}@${pushed.manifestDigest}`]);
      const info = await imageInfo(image(), id);
      assert.equal(info.manifestDigest, amd64.manifestDigest);
      await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
        assert.equal(await readFile(path.join(tree, 'etc/berth-platform'), 'utf8'), 'linux/amd64\n');
      });
      // Only the chosen platform was downloaded.
      const blobs = await blobDigests(daemon.root);
      for (const other of [pushed.images[0], pushed.images[2], pushed.images[3]]) {
        assert.ok(other);
        assert.equal(blobs.includes(other.manifestDigest), false, `${other.image.platform.architecture} manifest not fetched`);
        assert.equal(blobs.includes(other.layerDigests[0] as string), false);
      }
      assert.ok(blobs.includes(pushed.manifestDigest), 'the index is kept');
      // By the digest of the index, too.
      assert.equal(await pull(`${MIRRORED}/multi/${format}@${pushed.manifestDigest}`), id);
    });
  }
});

describe('ListImages and ImageStatus', () => {
  test('list without and with a filter', async () => {
    const a = await pushImage(registry, 'list/a:1', tinyImage({ files: { a: 'a\n' } }));
    const b = await pushImage(registry, 'list/b:1', tinyImage({ files: { b: 'b\n' } }));
    await pull(`${MIRRORED}/list/a:1`);
    await pull(`${MIRRORED}/list/b:1`);
    const all = (await image().listImages({})).images;
    const ids = all.map((i) => i.id);
    assert.ok(ids.includes(a.configDigest) && ids.includes(b.configDigest));
    assert.equal(new Set(ids).size, ids.length, 'each image once');
    const listedA = all.find((i) => i.id === a.configDigest);
    assert.deepEqual(listedA?.repoTags, [`${MIRRORED}/list/a:1`]);
    assert.equal(listedA?.size, BigInt(a.totalSize - a.image.manifest.size));

    const filtered = await image().listImages({ filter: { image: { image: `${MIRRORED}/list/b:1` } } });
    assert.deepEqual(
      filtered.images.map((i) => i.id),
      [b.configDigest],
    );
    const byId = await image().listImages({ filter: { image: { image: a.configDigest } } });
    assert.deepEqual(
      byId.images.map((i) => i.id),
      [a.configDigest],
    );
    const none = await image().listImages({ filter: { image: { image: `${MIRRORED}/list/c:1` } } });
    assert.deepEqual(none.images, []);
    // An empty filter lists everything.
    const empty = await image().listImages({ filter: { image: { image: '' } } });
    assert.equal(empty.images.length, all.length);
  });

  test('ImageStatus of an absent image answers no image and no error', async () => {
    for (const ref of [`${MIRRORED}/never/pulled:1`, 'busybox:other-tag', `sha256:${'0'.repeat(64)}`]) {
      const status = await image().imageStatus({ image: { image: ref }, verbose: true });
      assert.equal(status.image, undefined, ref);
      assert.deepEqual(status.info, {});
    }
  });

  test('verbose ImageStatus carries the image config; the CRI image has the user and spec', async () => {
    const pushed = await pushImage(
      registry,
      'status/user:1',
      tinyImage({ config: { User: '1000:1000', Env: ['A=1'], Entrypoint: ['/bin/true'], Labels: { x: 'y' } } }),
    );
    await pull(`${MIRRORED}/status/user:1`);
    const status = await image().imageStatus({ image: { image: `${MIRRORED}/status/user:1` }, verbose: true });
    assert.equal(status.image?.uid?.value, 1000n);
    assert.equal(status.image?.username, '');
    assert.equal(status.image?.pinned, false);
    const info = JSON.parse(status.info.info ?? '{}');
    assert.equal(info.id, pushed.configDigest);
    assert.equal(info.manifestDigest, pushed.manifestDigest);
    assert.deepEqual(info.imageSpec.config.Env, ['A=1']);
    assert.deepEqual(info.imageSpec.config.Entrypoint, ['/bin/true']);
    assert.deepEqual(info.imageSpec.rootfs.diff_ids, pushed.diffIds);
    const quiet = await image().imageStatus({ image: { image: `${MIRRORED}/status/user:1` } });
    assert.deepEqual(quiet.info, {}, 'no info without verbose');

    const named = await pushImage(registry, 'status/named:1', tinyImage({ config: { User: 'app' } }));
    await pull(`${MIRRORED}/status/named:1`);
    const s2 = await image().imageStatus({ image: { image: named.configDigest } });
    assert.equal(s2.image?.username, 'app');
    assert.equal(s2.image?.uid, undefined);
  });
});

describe('RemoveImage', () => {
  test('by tag removes every tag of the image and frees its blobs and snapshots; removing again is no error', async () => {
    const spec = tinyImage({ files: { 'rm-by-tag': '1\n' } });
    const pushed = await pushImage(registry, 'rm/tag:a', spec);
    await pushImage(registry, 'rm/tag:b', pushed.image);
    await pull(`${MIRRORED}/rm/tag:a`);
    await pull(`${MIRRORED}/rm/tag:b`);
    const status = await image().imageStatus({ image: { image: `${MIRRORED}/rm/tag:a` } });
    assert.deepEqual(status.image?.repoTags.sort(), [`${MIRRORED}/rm/tag:a`, `${MIRRORED}/rm/tag:b`]);
    const info = await imageInfo(image(), pushed.configDigest);
    const chain = await chainOf(daemon.root, info.chainID);

    await remove(`${MIRRORED}/rm/tag:a`);
    assert.equal((await image().imageStatus({ image: { image: `${MIRRORED}/rm/tag:b` } })).image, undefined);
    assert.equal((await listedIds()).includes(pushed.configDigest), false);
    for (const digest of [pushed.manifestDigest, pushed.configDigest, ...pushed.layerDigests]) {
      assert.equal(existsSync(blobPath(daemon.root, digest)), false, `blob ${digest} freed`);
    }
    const keys = (await readSnapshots(daemon.root)).map((s) => s.key);
    for (const s of chain) {
      assert.equal(keys.includes(s.key), false, `snapshot ${s.key} freed`);
      assert.equal(existsSync(snapshotFsDir(daemon.root, s.id)), false);
    }
    await remove(`${MIRRORED}/rm/tag:a`);
    await remove(`${MIRRORED}/rm/tag:b`);
    await remove(pushed.configDigest);
    await assertOnlyImageData(daemon);
  });

  test('by ID and by repo digest', async () => {
    const one = await pushImage(registry, 'rm/id:1', tinyImage({ files: { 'rm-by-id': '1\n' } }));
    const two = await pushImage(registry, 'rm/digest:1', tinyImage({ files: { 'rm-by-digest': '1\n' } }));
    await pull(`${MIRRORED}/rm/id:1`);
    await pull(`${MIRRORED}/rm/digest:1`);
    await remove(one.configDigest);
    assert.equal((await listedIds()).includes(one.configDigest), false);
    await remove(`${MIRRORED}/rm/digest@${two.manifestDigest}`);
    assert.equal((await listedIds()).includes(two.configDigest), false);
    assert.equal((await image().imageStatus({ image: { image: `${MIRRORED}/rm/digest:1` } })).image, undefined);
    await remove(one.configDigest);
    await remove(`${MIRRORED}/rm/digest@${two.manifestDigest}`);
    await assertOnlyImageData(daemon);
  });

  test('a layer shared by two images stays until the last image that uses it goes', async () => {
    const base = {
      entries: [
        { type: 'dir', name: 'shared/' },
        { type: 'file', name: 'shared/base.txt', content: 'base layer shared by two images\n' },
      ] satisfies TarEntry[],
    };
    const first = buildImage({ layers: [base, { entries: [{ type: 'file', name: 'first', content: '1\n' }] }] });
    const second = buildImage({ layers: [base, { entries: [{ type: 'file', name: 'second', content: '2\n' }] }] });
    const p1 = await pushImage(registry, 'rm/shared-one:1', first);
    const p2 = await pushImage(registry, 'rm/shared-two:1', second);
    assert.equal(p1.layerDigests[0], p2.layerDigests[0]);
    const sharedLayer = p1.layerDigests[0] as string;
    await pull(`${MIRRORED}/rm/shared-one:1`);
    await pull(`${MIRRORED}/rm/shared-two:1`);
    const c1 = await chainOf(daemon.root, (await imageInfo(image(), p1.configDigest)).chainID);
    const c2 = await chainOf(daemon.root, (await imageInfo(image(), p2.configDigest)).chainID);
    assert.equal(c1[0]?.key, c2[0]?.key, 'the base layer is unpacked once');
    assert.equal(c1[0]?.id, c2[0]?.id);

    await remove(`${MIRRORED}/rm/shared-one:1`);
    assert.ok(existsSync(blobPath(daemon.root, sharedLayer)), 'shared layer blob kept');
    assert.equal(existsSync(blobPath(daemon.root, p1.layerDigests[1] as string)), false, 'own layer blob freed');
    const keys = (await readSnapshots(daemon.root)).map((s) => s.key);
    assert.ok(keys.includes(c1[0]?.key as string), 'shared snapshot kept');
    assert.equal(keys.includes(c1[1]?.key as string), false, 'own snapshot freed');
    await withImageTree(daemon.root, c2[1]?.key as string, daemon.dir, async (tree) => {
      assert.equal(await readFile(path.join(tree, 'shared/base.txt'), 'utf8'), 'base layer shared by two images\n');
      assert.equal(await readFile(path.join(tree, 'second'), 'utf8'), '2\n');
    });

    await remove(`${MIRRORED}/rm/shared-two:1`);
    assert.equal(existsSync(blobPath(daemon.root, sharedLayer)), false, 'shared layer blob freed with the last image');
    const after2 = (await readSnapshots(daemon.root)).map((s) => s.key);
    assert.equal(after2.includes(c1[0]?.key as string), false, 'shared snapshot freed with the last image');
    await assertOnlyImageData(daemon);
  });
});

describe('RemoveImage during a pull', () => {
  test('removing an image does not collect layers that a running pull of another image uses', async () => {
    const base = { entries: [{ type: 'file', name: 'base.txt', content: 'base shared with a pull in flight\n' }] satisfies TarEntry[] };
    const one = await pushImage(
      registry,
      'race/one:1',
      buildImage({ layers: [base, { entries: [{ type: 'file', name: 'one', content: '1\n' }] }] }),
    );
    const two = await pushImage(
      registry,
      'race/two:1',
      buildImage({ layers: [base, { entries: [{ type: 'file', name: 'two', content: Buffer.alloc(64 * 1024, 2) }] }] }),
    );
    await pull(`${MIRRORED}/race/one:1`);
    // The pull of two holds its top layer back until one has been removed.
    const top = two.layerDigests[1] as string;
    proxy.tamper(new RegExp(`/blobs/${top}`), { kind: 'delay', ms: 1500 }, { times: 1 });
    try {
      const pulling = pull(`${VIA_PROXY}/race/two:1`);
      pulling.catch(() => {});
      await waitFor(
        'the pull of two to ask for its top layer',
        () => (proxy.requests.some((r) => r.url.includes(top)) ? true : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 10,
        },
      );
      await remove(`${MIRRORED}/race/one:1`);
      assert.ok(existsSync(blobPath(daemon.root, one.layerDigests[0] as string)), 'the shared layer blob is kept for the pull');
      assert.equal(existsSync(blobPath(daemon.root, one.layerDigests[1] as string)), false);
      assert.equal(await pulling, two.configDigest);
    } finally {
      proxy.clearRules();
    }
    const info = await imageInfo(image(), two.configDigest);
    await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
      assert.equal(await readFile(path.join(tree, 'base.txt'), 'utf8'), 'base shared with a pull in flight\n');
      assert.equal((await stat(path.join(tree, 'two'))).size, 64 * 1024);
    });
    await remove(two.configDigest);
    await assertOnlyImageData(daemon);
  });
});

describe('ImageFsInfo', () => {
  test('bytes and inodes go up after a pull and back down after the remove', async () => {
    const spec = busyboxLikeImage();
    spec.layers.push({ entries: [{ type: 'file', name: 'fsinfo', content: Buffer.alloc(256 * 1024, 7) }] });
    const pushed = await pushImage(registry, 'fsinfo/img:1', spec);
    // The busybox layers are already there: the new layer must still count.
    const before = await imageFsUsage(image());
    assert.equal(before.mountpoint, path.join(daemon.root, 'snapshots'));
    assert.ok(before.bytes >= 0n && before.inodes >= 0n);
    await pull(`${MIRRORED}/fsinfo/img:1`);
    const during = await imageFsUsage(image());
    assert.ok(during.bytes >= before.bytes + 256n * 1024n, `bytes ${before.bytes} → ${during.bytes}`);
    assert.ok(during.inodes > before.inodes, `inodes ${before.inodes} → ${during.inodes}`);
    await remove(pushed.configDigest);
    const afterRemove = await imageFsUsage(image());
    assert.equal(afterRemove.bytes, before.bytes);
    assert.equal(afterRemove.inodes, before.inodes);
  });
});

describe('concurrent pulls', () => {
  test('pulls of the same image share one download', async () => {
    const spec = busyboxLikeImage();
    spec.layers.push({ entries: [{ type: 'file', name: 'concurrent', content: 'shared download\n' }] });
    const pushed = await pushImage(registry, 'concurrent/img:1', spec);
    // Slow blob responses a little so that the pulls surely overlap.
    const present = new Set(await blobDigests(daemon.root));
    proxy.tamper(/\/blobs\//, { kind: 'delay', ms: 300 });
    const first = proxy.requests.length;
    try {
      const ref = `${VIA_PROXY}/concurrent/img:1`;
      const ids = await Promise.all([pull(ref), pull(ref), pull(ref), pull(ref)]);
      assert.deepEqual(ids, Array(4).fill(pushed.configDigest));
    } finally {
      proxy.clearRules();
    }
    const gets = proxy.requests.slice(first).filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));
    const perBlob = new Map<string, number>();
    for (const r of gets) {
      const digest = /\/blobs\/(sha256:[a-f0-9]{64})/.exec(r.url)?.[1] as string;
      perBlob.set(digest, (perBlob.get(digest) ?? 0) + 1);
    }
    for (const digest of [pushed.configDigest, ...pushed.layerDigests]) {
      // Blobs in the store already (the busybox layers, when an earlier test pulled busybox) are not fetched.
      if (present.has(digest)) assert.equal(perBlob.get(digest), undefined, `blob ${digest} reused`);
      else assert.equal(perBlob.get(digest), 1, `blob ${digest} fetched once`);
    }
    const manifests = proxy.requests.slice(first).filter((r) => r.url.includes('/manifests/'));
    assert.equal(manifests.length, 1, 'one manifest request');
    // Through a mirror, the repository path stays and the original host goes in `ns`.
    assert.match(manifests[0]?.url ?? '', /^\/v2\/concurrent\/img\/manifests\/1\?ns=proxied\.example\.test$/);
  });

  test('pulls by tag and by digest of the same new image fetch each layer once', async () => {
    const spec = tinyImage({ files: { 'by-tag-and-digest': 'x\n' } });
    spec.layers.push({ entries: [{ type: 'file', name: 'big', content: Buffer.alloc(512 * 1024, 1) }] });
    const pushed = await pushImage(registry, 'concurrent/two-refs:1', spec);
    proxy.tamper(/\/blobs\//, { kind: 'delay', ms: 300 });
    const first = proxy.requests.length;
    try {
      const ids = await Promise.all([
        pull(`${VIA_PROXY}/concurrent/two-refs:1`),
        pull(`${VIA_PROXY}/concurrent/two-refs@${pushed.manifestDigest}`),
      ]);
      assert.deepEqual(ids, [pushed.configDigest, pushed.configDigest]);
    } finally {
      proxy.clearRules();
    }
    const gets = proxy.requests.slice(first).filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));
    for (const digest of pushed.layerDigests) {
      assert.equal(gets.filter((r) => r.url.includes(digest)).length, 1, `layer ${digest} fetched once`);
    }
    const status = await image().imageStatus({ image: { image: pushed.configDigest } });
    assert.deepEqual(status.image?.repoTags, [`${VIA_PROXY}/concurrent/two-refs:1`]);
    await assertNoLeftovers(daemon);
    await assertOnlyImageData(daemon);
  });

  test('a caller that gives up does not fail the others that share its pull or its download', {}, async () => {
    const layer = { entries: [{ type: 'file', name: 'patience', content: Buffer.alloc(32 * 1024, 4) }] satisfies TarEntry[] };
    const same = await pushImage(registry, 'concurrent/give-up:1', buildImage({ layers: [layer] }));
    const other = await pushImage(
      registry,
      'concurrent/give-up-other:1',
      buildImage({ layers: [layer, { entries: [{ type: 'file', name: 'other', content: '1\n' }] }] }),
    );
    const shared = same.layerDigests[0] as string;
    proxy.tamper(new RegExp(`/blobs/${shared}`), { kind: 'delay', ms: 1500 }, { times: 1 });
    try {
      const impatient = image().pullImage({ image: { image: `${VIA_PROXY}/concurrent/give-up:1` } }, { timeoutMs: 500 });
      let impatientSettled = false;
      impatient
        .then(
          () => {},
          () => {},
        )
        .finally(() => {
          impatientSettled = true;
        });
      await waitFor(
        'the first pull to ask for the shared layer (or give up)',
        () => (impatientSettled || proxy.requests.some((r) => r.url.includes(shared)) ? true : undefined),
        { intervalMs: 10 },
      );
      const patient = pull(`${VIA_PROXY}/concurrent/give-up:1`);
      const patientOther = pull(`${VIA_PROXY}/concurrent/give-up-other:1`);
      const [a, b, c] = await Promise.allSettled([impatient, patient, patientOther]);
      assert.equal(a.status, 'rejected', 'the caller with a 500 ms deadline gives up');
      assert.deepEqual(b, { status: 'fulfilled', value: same.configDigest }, 'the same image, pulled without a deadline');
      assert.deepEqual(c, { status: 'fulfilled', value: other.configDigest }, 'an image sharing the layer, pulled without a deadline');
    } finally {
      proxy.clearRules();
      await assertNoLeftovers(daemon);
      for (const id of [same.configDigest, other.configDigest]) await remove(id);
    }
  });
});
