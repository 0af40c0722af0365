// The behaviour every Snapshotter must show, fakes included. Call from a *.test.ts file:
//   snapshotterSuite('OverlaySnapshotter', async () => ({ snapshotter, dispose }))
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { Snapshotter } from './snapshotter.ts';

export interface SnapshotterFixture {
  snapshotter: Snapshotter;
  dispose(): Promise<void>;
}

export function snapshotterSuite(name: string, make: () => Promise<SnapshotterFixture>): void {
  const withSnapshotter = (body: (s: Snapshotter) => Promise<void>) => async () => {
    const f = await make();
    try {
      await body(f.snapshotter);
    } finally {
      await f.dispose();
    }
  };

  describe(`Snapshotter contract: ${name}`, () => {
    test(
      'prepare, commit, stat, list',
      withSnapshotter(async (s) => {
        const before = Date.now();
        const mounts = await s.prepare('active-1', undefined, { a: '1' });
        assert.ok(mounts.length > 0);
        assert.deepEqual(await s.mounts('active-1'), mounts);
        const active = await s.stat('active-1');
        assert.equal(active?.kind, 'active');
        assert.equal(active?.parent, undefined);
        assert.deepEqual(active?.labels, { a: '1' });
        assert.ok(active!.created >= before);

        await s.commit('layer-1', 'active-1', { b: '2' });
        assert.equal(await s.stat('active-1'), undefined);
        const committed = await s.stat('layer-1');
        assert.equal(committed?.kind, 'committed');
        assert.deepEqual(committed?.labels, { b: '2' });

        await s.prepare('active-2', 'layer-1');
        assert.equal((await s.stat('active-2'))?.parent, 'layer-1');
        await s.commit('layer-2', 'active-2');
        await s.view('view-1', 'layer-2');
        assert.equal((await s.stat('view-1'))?.kind, 'view');
        const keys = (await s.list()).map((i) => i.key).sort();
        assert.deepEqual(keys, ['layer-1', 'layer-2', 'view-1']);
      }),
    );

    test(
      'errors: exists, missing parent, uncommitted parent, commit of non-active, missing key',
      withSnapshotter(async (s) => {
        await s.prepare('a', undefined);
        await assert.rejects(s.prepare('a', undefined), (e) => isBerthError(e, 'already-exists'));
        await assert.rejects(s.prepare('b', 'nope'), (e) => isBerthError(e, 'not-found'));
        await assert.rejects(s.prepare('b', 'a'), (e) => isBerthError(e, 'failed-precondition'));
        await assert.rejects(s.commit('x', 'nope'), (e) => isBerthError(e, 'not-found'));
        await assert.rejects(s.mounts('nope'), (e) => isBerthError(e, 'not-found'));
        await s.commit('c', 'a');
        await assert.rejects(s.commit('d', 'c'), (e) => isBerthError(e, 'failed-precondition'));
        await s.view('v', 'c');
        await assert.rejects(s.commit('e', 'v'), (e) => isBerthError(e, 'failed-precondition'));
        await s.prepare('f', undefined);
        await assert.rejects(s.commit('c', 'f'), (e) => isBerthError(e, 'already-exists'));
        assert.equal((await s.stat('f'))?.kind, 'active');
      }),
    );

    test(
      'remove refuses while children exist, and is idempotent',
      withSnapshotter(async (s) => {
        await s.prepare('a', undefined);
        await s.commit('base', 'a');
        await s.prepare('child', 'base');
        await assert.rejects(s.remove('base'), (e) => isBerthError(e, 'failed-precondition'));
        await s.remove('child');
        await s.remove('child');
        await s.remove('base');
        await s.remove('never-existed');
        assert.deepEqual(await s.list(), []);
      }),
    );

    test(
      'cleanup removes stale actives and views only',
      withSnapshotter(async (s) => {
        await s.prepare('a', undefined);
        await s.commit('base', 'a');
        await s.prepare('tmp-1', 'base');
        await s.view('tmp-2', 'base');
        await s.prepare('keep', 'base');
        await s.cleanup((info) => info.key.startsWith('tmp-') || info.key === 'base');
        assert.deepEqual((await s.list()).map((i) => i.key).sort(), ['base', 'keep']);
      }),
    );

    test(
      'usage of a fresh snapshot is small',
      withSnapshotter(async (s) => {
        await s.prepare('a', undefined);
        const u = await s.usage('a');
        assert.ok(u.inodes <= 1);
        assert.ok(u.bytes >= 0);
        await assert.rejects(s.usage('nope'), (e) => isBerthError(e, 'not-found'));
      }),
    );
  });
}
