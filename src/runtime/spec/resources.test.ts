import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { cgroupsPath, clampOomScoreAdj, linuxResources } from './resources.ts';

test('CRI resources map onto the cgroup settings; zero is unset', () => {
  assert.deepEqual(linuxResources(undefined), {});
  assert.deepEqual(linuxResources({ cpuShares: 0, cpuQuota: 0, memoryLimitInBytes: 0 }), {});
  const r = linuxResources(
    {
      cpuPeriod: 100000,
      cpuQuota: 50000,
      cpuShares: 512,
      cpusetCpus: '0-1',
      cpusetMems: '0',
      memoryLimitInBytes: 256 << 20,
      hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
      unified: { 'memory.high': '200M' },
    },
    { swapAvailable: true, hugetlbAvailable: true, pidsLimit: 1024 },
  );
  assert.deepEqual(r, {
    pids: { limit: 1024 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
    memory: { limit: 256 << 20, swap: 256 << 20 },
    hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
    unified: { 'memory.high': '200M' },
  });
});

test('swap: equal to the limit by default, the CRI value when set, nothing without swap accounting', () => {
  assert.deepEqual(linuxResources({ memoryLimitInBytes: 100 }, { swapAvailable: true }).memory, { limit: 100, swap: 100 });
  assert.deepEqual(linuxResources({ memoryLimitInBytes: 100, memorySwapLimitInBytes: 300 }, { swapAvailable: true }).memory, {
    limit: 100,
    swap: 300,
  });
  assert.deepEqual(linuxResources({ memoryLimitInBytes: 100, memorySwapLimitInBytes: 300 }, { swapAvailable: false }).memory, {
    limit: 100,
  });
  // -1 quota means unlimited and is passed on.
  assert.equal(linuxResources({ cpuQuota: -1 }).cpu?.quota, -1);
  // No hugetlb controller: limits are dropped.
  assert.equal(linuxResources({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, { hugetlbAvailable: false }).hugepageLimits, undefined);
  assert.throws(
    () => linuxResources({ memoryLimitInBytes: -5 }),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('oom_score_adj is clamped to the kernel range and the daemon minimum', () => {
  assert.equal(clampOomScoreAdj(500), 500);
  assert.equal(clampOomScoreAdj(-998, 0), 0);
  assert.equal(clampOomScoreAdj(-998, -500), -500);
  assert.equal(clampOomScoreAdj(-998), -998);
  assert.equal(clampOomScoreAdj(5000), 1000);
  assert.equal(clampOomScoreAdj(-5000), -1000);
  assert.equal(clampOomScoreAdj(1000, 0), 1000);
});

test('cgroups paths for the cgroupfs and systemd drivers', () => {
  assert.equal(cgroupsPath('/kubepods/burstable/pod123', 'abc'), '/kubepods/burstable/pod123/abc');
  assert.equal(cgroupsPath(undefined, 'abc'), undefined);
  assert.equal(cgroupsPath('', 'abc'), undefined);
  assert.equal(cgroupsPath('kubepods-burstable-pod123.slice', 'abc', 'systemd'), 'kubepods-burstable-pod123.slice:berth:abc');
  // Inferred from the parent, as containerd does.
  assert.equal(cgroupsPath('/kubepods.slice/kubepods-pod1.slice', 'abc'), 'kubepods-pod1.slice:berth:abc');
  assert.equal(cgroupsPath(undefined, 'abc', 'systemd'), 'system.slice:berth:abc');
  assert.throws(
    () => cgroupsPath('/kubepods/pod1', 'abc', 'systemd'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});
