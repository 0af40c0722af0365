// removeCgroup on a stand-in tree of empty directories (a real cgroupfs is tested in test/runtime/).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { CgroupLayout } from './cgroup-layout.ts';
import { cgroupExists, removeCgroup } from './cgroup-remove.ts';

test('removeCgroup removes the cgroup and its children in every hierarchy, and is idempotent', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-cgrm-'));
  try {
    const layout: CgroupLayout = {
      mode: 'hybrid',
      v1: new Map([
        ['memory', path.join(root, 'memory')],
        ['cpu', path.join(root, 'cpu,cpuacct')],
        ['cpuacct', path.join(root, 'cpu,cpuacct')],
      ]),
      unified: path.join(root, 'unified'),
    };
    for (const h of ['memory', 'cpu,cpuacct', 'unified']) {
      await mkdir(path.join(root, h, 'pod1', 'c1', 'nested'), { recursive: true });
      await mkdir(path.join(root, h, 'pod1', 'c2'), { recursive: true });
    }
    assert.equal(await cgroupExists(layout, '/pod1/c1'), true);
    await removeCgroup(layout, '/pod1/c1');
    assert.equal(await cgroupExists(layout, '/pod1/c1'), false);
    assert.deepEqual(await readdir(path.join(root, 'memory', 'pod1')), ['c2']);
    await removeCgroup(layout, '/pod1');
    await removeCgroup(layout, '/pod1');
    for (const h of ['memory', 'cpu,cpuacct', 'unified']) assert.deepEqual(await readdir(path.join(root, h)), []);
    await assert.rejects(removeCgroup(layout, '/'), /not a cgroup path/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
