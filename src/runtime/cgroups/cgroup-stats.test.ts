// Stats from fake cgroup trees written to a temp dir in the kernel's file formats.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import type { CgroupLayout } from './cgroup-layout.ts';
import { parseKeyValues, readCgroupStats, readOomKillCount } from './cgroup-stats.ts';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
}

test('parseKeyValues', () => {
  const m = parseKeyValues('cache 10\nrss 20\n\ntotal_inactive_file 5\n');
  assert.equal(m.get('rss'), 20);
  assert.equal(m.get('total_inactive_file'), 5);
});

test('cgroup v1 (hybrid): cpuacct, memory with working set, pids; unlimited memory has no limit', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-cg1-'));
  try {
    const c = 'berth/c1';
    await writeTree(root, {
      [`cpuacct/${c}/cgroup.procs`]: '12\n',
      [`cpuacct/${c}/cpuacct.usage`]: '123456789\n',
      [`cpuacct/${c}/cpuacct.usage_user`]: '100000000\n',
      [`cpuacct/${c}/cpuacct.usage_sys`]: '23456789\n',
      [`memory/${c}/cgroup.procs`]: '12\n',
      [`memory/${c}/memory.usage_in_bytes`]: '10485760\n',
      [`memory/${c}/memory.limit_in_bytes`]: '9223372036854771712\n',
      [`memory/${c}/memory.stat`]:
        'cache 4096\nrss 1000\ninactive_file 7\ntotal_rss 2097152\ntotal_inactive_file 1048576\ntotal_pgfault 50\ntotal_pgmajfault 2\n',
      [`memory/${c}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
      [`pids/${c}/cgroup.procs`]: '12\n',
      [`pids/${c}/pids.current`]: '3\n',
      [`pids/${c}/pids.max`]: 'max\n',
    });
    const layout: CgroupLayout = {
      mode: 'hybrid',
      v1: new Map([
        ['cpuacct', path.join(root, 'cpuacct')],
        ['memory', path.join(root, 'memory')],
        ['pids', path.join(root, 'pids')],
      ]),
      unified: path.join(root, 'unified'),
    };
    const s = await readCgroupStats(layout, `/${c}`);
    assert.deepEqual(s.cpu, { usageNs: 123456789, userNs: 100000000, systemNs: 23456789 });
    assert.equal(s.memory.usageBytes, 10485760);
    assert.equal(s.memory.workingSetBytes, 10485760 - 1048576);
    assert.equal(s.memory.rssBytes, 2097152);
    assert.equal(s.memory.limitBytes, undefined);
    assert.equal(s.memory.availableBytes, undefined);
    assert.equal(s.memory.pageFaults, 50);
    assert.equal(s.memory.majorPageFaults, 2);
    assert.deepEqual(s.pids, { current: 3, limit: undefined });
    assert.equal(await readOomKillCount(layout, `/${c}`), 1);

    await writeFile(path.join(root, 'memory', c, 'memory.limit_in_bytes'), '16777216\n');
    const limited = await readCgroupStats(layout, `/${c}`);
    assert.equal(limited.memory.limitBytes, 16777216);
    assert.equal(limited.memory.availableBytes, 16777216 - (10485760 - 1048576));

    await assert.rejects(readCgroupStats(layout, '/berth/nope'), (e: unknown) => isBerthError(e, 'not-found'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('cgroup v2: cpu.stat, memory.current and memory.stat; working set never below 0', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-cg2-'));
  try {
    const c = 'berth/c2';
    await writeTree(root, {
      [`${c}/cgroup.procs`]: '12\n',
      [`${c}/cpu.stat`]: 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n',
      [`${c}/memory.current`]: '4096\n',
      [`${c}/memory.max`]: '1048576\n',
      [`${c}/memory.stat`]: 'anon 1024\nfile 8192\ninactive_file 8192\npgfault 9\npgmajfault 1\n',
      [`${c}/memory.events`]: 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n',
      [`${c}/pids.current`]: '1\n',
      [`${c}/pids.max`]: '100\n',
    });
    const layout: CgroupLayout = { mode: 'v2', v1: new Map(), unified: root };
    const s = await readCgroupStats(layout, c);
    assert.deepEqual(s.cpu, { usageNs: 2_000_000, userNs: 1_500_000, systemNs: 500_000 });
    assert.equal(s.memory.usageBytes, 4096);
    assert.equal(s.memory.workingSetBytes, 0);
    assert.equal(s.memory.limitBytes, 1048576);
    assert.equal(s.memory.availableBytes, 1048576);
    assert.equal(s.memory.rssBytes, 1024);
    assert.deepEqual(s.pids, { current: 1, limit: 100 });
    assert.equal(await readOomKillCount(layout, c), 2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
