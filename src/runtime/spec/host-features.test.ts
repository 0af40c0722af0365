import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { KNOWN_CAPABILITIES } from './capabilities.ts';
import { detectHostOptions, hugetlbAvailable, swapAvailable } from './host-features.ts';

test('host options of this machine have the expected shape', async () => {
  const h = await detectHostOptions();
  assert.equal(typeof h.cgroupV2, 'boolean');
  assert.ok(Number.isInteger(h.minOomScoreAdj));
  assert.ok(h.minOomScoreAdj! >= -1000 && h.minOomScoreAdj! <= 1000);
  assert.ok(h.allCapabilities!.every((c) => KNOWN_CAPABILITIES.includes(c)));
  assert.equal(h.arch, process.arch);
  assert.equal(typeof h.kernelRelease, 'string');
});

test('swap and hugetlb detection on cgroup v1 and v2 layouts', async () => {
  await using dir = await makeTempDir();
  assert.equal(await swapAvailable(false, dir.path), false);
  assert.equal(await hugetlbAvailable(false, dir.path), false);
  await mkdir(join(dir.path, 'memory'));
  await writeFile(join(dir.path, 'memory', 'memory.memsw.limit_in_bytes'), '');
  await mkdir(join(dir.path, 'hugetlb'));
  assert.equal(await swapAvailable(false, dir.path), true);
  assert.equal(await hugetlbAvailable(false, dir.path), true);
  await writeFile(join(dir.path, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids\n');
  assert.equal(await hugetlbAvailable(true, dir.path), true);
});
