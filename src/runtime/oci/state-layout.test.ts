import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { checkContainerId, readIntFile, StateLayout } from './state-layout.ts';

test('container IDs follow runc’s rules and stay inside the state dir', () => {
  for (const ok of ['abc', 'a'.repeat(64), 'x_y.z-1+2']) checkContainerId(ok);
  for (const bad of ['', '../x', 'a/b', '.hidden', 'a b', 'a'.repeat(129)]) {
    assert.throws(
      () => checkContainerId(bad),
      (e: unknown) => isBerthError(e, 'invalid-argument'),
      bad,
    );
  }
});

test('paths of the layout', () => {
  const l = new StateLayout('/run/berth/oci');
  assert.equal(l.exitFile('c1'), '/run/berth/oci/exits/c1');
  assert.equal(l.attachLink('c1'), '/run/berth/oci/attach/c1');
  assert.equal(l.conmonPidFile('c1'), '/run/berth/oci/containers/c1/conmon.pid');
  assert.deepEqual(l.bundleFiles('/b'), ['/b/ctl', '/b/winsz', '/b/attach']);
});

test('readIntFile reads pid and exit files', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-layout-'));
  try {
    await writeFile(path.join(dir, 'a'), '137');
    await writeFile(path.join(dir, 'b'), '-1\n');
    await writeFile(path.join(dir, 'c'), '');
    assert.equal(await readIntFile(path.join(dir, 'a')), 137);
    assert.equal(await readIntFile(path.join(dir, 'b')), -1);
    assert.equal(await readIntFile(path.join(dir, 'c')), undefined);
    assert.equal(await readIntFile(path.join(dir, 'missing')), undefined);
    const meta = { id: 'c1', bundle: '/b', logPath: '/l', tty: false, createdAt: 1, pid: 2, conmonPid: 3 };
    const layout = new StateLayout(dir);
    await mkdir(layout.containerDir('c1'), { recursive: true });
    await layout.writeMeta(meta);
    assert.deepEqual(await layout.readMeta('c1'), meta);
    assert.equal(await layout.readMeta('c2'), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
