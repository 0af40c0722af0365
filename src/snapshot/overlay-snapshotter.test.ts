import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { isMountPoint, mountAll, unmount } from './mount.ts';
import { OverlaySnapshotter } from './overlay-snapshotter.ts';
import { snapshotterSuite } from './snapshotter.suite.ts';
import type { Mount } from './snapshotter.ts';

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'berth-snap-'));
}

snapshotterSuite('OverlaySnapshotter', async () => {
  const root = await tempRoot();
  return { snapshotter: await OverlaySnapshotter.open(root), dispose: () => rm(root, { recursive: true, force: true }) };
});

function upperOf(m: Mount): string {
  return m.options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
}

test('mount shapes: bind rw, overlay nearest parent first, bind ro, overlay view', async () => {
  const root = await tempRoot();
  try {
    const s = await OverlaySnapshotter.open(root, { indexOff: true });
    const [m1] = await s.prepare('a1', undefined);
    assert.deepEqual(m1, { type: 'bind', source: path.join(root, 'snapshots', '1', 'fs'), options: ['rbind', 'rw'] });
    await s.commit('l1', 'a1');
    const [m2] = await s.prepare('a2', 'l1');
    assert.deepEqual(m2, {
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', `workdir=${root}/snapshots/2/work`, `upperdir=${root}/snapshots/2/fs`, `lowerdir=${root}/snapshots/1/fs`],
    });
    await s.commit('l2', 'a2');
    const [m3] = await s.prepare('a3', 'l2');
    assert.ok(m3!.options.includes(`lowerdir=${root}/snapshots/2/fs:${root}/snapshots/1/fs`));
    assert.deepEqual(await s.view('v1', 'l1'), [{ type: 'bind', source: `${root}/snapshots/1/fs`, options: ['rbind', 'ro'] }]);
    assert.deepEqual(await s.view('v2', 'l2'), [
      { type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${root}/snapshots/2/fs:${root}/snapshots/1/fs`] },
    ]);
    assert.deepEqual(await s.view('v0', undefined), [{ type: 'bind', source: `${root}/snapshots/6/fs`, options: ['rbind', 'ro'] }]);
    await assert.rejects(s.mounts('l1'), (e) => isBerthError(e, 'failed-precondition'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('metadata survives a restart; cleanup removes unreferenced directories', async () => {
  const root = await tempRoot();
  try {
    const s = await OverlaySnapshotter.open(root);
    await s.prepare('a', undefined, { role: 'layer' });
    await s.commit('base', 'a');
    await s.prepare('work', 'base');
    const s2 = await OverlaySnapshotter.open(root);
    assert.deepEqual(await s2.list(), await s.list());
    assert.deepEqual(await s2.mounts('work'), await s.mounts('work'));
    // A crash between mkdir and the metadata write leaves an unreferenced directory.
    await mkdir(path.join(root, 'snapshots', '77', 'fs'), { recursive: true });
    await writeFile(path.join(root, '.metadata.json.123.tmp'), '{half');
    const s3 = await OverlaySnapshotter.open(root);
    assert.ok(!(await readdir(root)).includes('.metadata.json.123.tmp'));
    await s3.cleanup(() => false);
    assert.deepEqual((await readdir(path.join(root, 'snapshots'))).sort(), ['1', '2']);
    // New ids keep counting after a restart.
    const [m] = await s3.prepare('next', 'base');
    assert.ok(upperOf(m!).includes('/snapshots/3/'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a corrupt metadata file is reported, not silently replaced', async () => {
  const root = await tempRoot();
  try {
    await writeFile(path.join(root, 'metadata.json'), '{"version": 1, "nextId": "x"');
    await assert.rejects(OverlaySnapshotter.open(root), (e) => isBerthError(e, 'internal') && e.code === 'snapshot-metadata-corrupt');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('two layers really mounted: merged content, whiteouts, opaque dirs, usage, ro views', async () => {
  const root = await tempRoot();
  const target = path.join(root, 'mnt');
  await mkdir(target);
  try {
    const s = await OverlaySnapshotter.open(root);
    // Layer 1, written through its rw bind mount.
    await mountAll(await s.prepare('a1', undefined), target);
    try {
      assert.ok(await isMountPoint(target));
      await writeFile(path.join(target, 'kept'), 'from layer 1');
      await writeFile(path.join(target, 'deleted'), 'gone in layer 2');
      await mkdir(path.join(target, 'dir'));
      await writeFile(path.join(target, 'dir', 'old'), 'hidden by opaque');
    } finally {
      await unmount(target);
    }
    assert.equal(await isMountPoint(target), false);
    await s.commit('l1', 'a1');
    // Layer 2 on top: delete a file, replace a directory (the kernel makes it opaque).
    await mountAll(await s.prepare('a2', 'l1'), target);
    try {
      assert.equal(await readFile(path.join(target, 'kept'), 'utf8'), 'from layer 1');
      await rm(path.join(target, 'deleted'));
      await rm(path.join(target, 'dir'), { recursive: true });
      await mkdir(path.join(target, 'dir'));
      await writeFile(path.join(target, 'dir', 'new'), 'layer 2');
      await writeFile(path.join(target, 'added'), 'layer 2');
    } finally {
      await unmount(target);
    }
    await s.commit('l2', 'a2');
    const upper2 = path.join(root, 'snapshots', '2', 'fs');
    const wh = await stat(path.join(upper2, 'deleted'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a whiteout is a 0:0 character device');
    const opaque = execFileSync('getfattr', [
      '--absolute-names',
      '--only-values',
      '-n',
      'trusted.overlay.opaque',
      path.join(upper2, 'dir'),
    ]);
    assert.equal(opaque.toString(), 'y');

    // A read-only view of both: merged content, whiteouts honoured.
    await mountAll(await s.view('v', 'l2'), target);
    try {
      assert.deepEqual((await readdir(target)).sort(), ['added', 'dir', 'kept']);
      assert.deepEqual(await readdir(path.join(target, 'dir')), ['new']);
      await assert.rejects(writeFile(path.join(target, 'x'), 'x'), /EROFS/);
    } finally {
      await unmount(target);
    }
    // A single-layer view is a read-only bind mount.
    await mountAll(await s.view('v1', 'l1'), target);
    try {
      assert.deepEqual((await readdir(target)).sort(), ['deleted', 'dir', 'kept']);
      await assert.rejects(writeFile(path.join(target, 'x'), 'x'), /EROFS/);
    } finally {
      await unmount(target);
    }
    const u1 = await s.usage('l1');
    assert.equal(u1.inodes, 5); // root, kept, deleted, dir, dir/old
    assert.ok(u1.bytes >= 4 * 4096);
    await s.remove('v');
    await s.remove('v1');
    await assert.rejects(s.remove('l1'), (e) => isBerthError(e, 'failed-precondition') && e.code === 'snapshot-has-children');
    await s.remove('l2');
    await s.remove('l1');
    assert.deepEqual(await readdir(path.join(root, 'snapshots')), []);
  } finally {
    await unmount(target, { detach: true }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
});

test('mountAll: many layers past the one-page limit still mount; failures are clean', async () => {
  const root = await tempRoot();
  const target = path.join(root, 'mnt');
  await mkdir(target);
  try {
    const deep = path.join(root, 'a-rather-long-directory-name-to-fill-the-mount-data-page'.repeat(2));
    const lowers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const dir = path.join(deep, `layer-number-${i}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `f${i}`), String(i));
      lowers.push(dir);
    }
    const option = `lowerdir=${lowers.join(':')}`;
    assert.ok(option.length > 4096);
    await mountAll([{ type: 'overlay', source: 'overlay', options: [option] }], target);
    try {
      assert.equal((await readdir(target)).length, 60);
    } finally {
      await unmount(target);
    }
    await assert.rejects(
      mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${root}/missing1:${root}/missing2`] }], target),
      (e) => isBerthError(e, 'internal') && e.code === 'mount-failed' && /mount/.test(e.message),
    );
    // The second mount fails: the first is taken down again.
    await assert.rejects(
      mountAll(
        [
          { type: 'bind', source: lowers[0]!, options: ['rbind', 'ro'] },
          { type: 'bind', source: path.join(root, 'missing'), options: ['rbind'] },
        ],
        target,
      ),
      (e) => isBerthError(e) && e.code === 'mount-failed',
    );
    assert.equal(await isMountPoint(target), false);
    await unmount(target); // not mounted: fine
    await unmount(path.join(root, 'does-not-exist'));
    await assert.rejects(mountAll([{ type: 'bind', source: lowers[0]!, options: ['rbind'] }], target, AbortSignal.abort()), (e) =>
      isBerthError(e, 'cancelled'),
    );
  } finally {
    await unmount(target, { detach: true }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
});

test('open refuses a root that cannot go into mount options', async () => {
  await assert.rejects(OverlaySnapshotter.open(path.join(tmpdir(), 'bad,root')), (e) => isBerthError(e, 'invalid-argument'));
});
