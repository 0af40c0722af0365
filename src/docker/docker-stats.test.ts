import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumCgroupStats } from './docker-stats.ts';

const stats = (cpu: number, ws: number, pids: number, timestamp: number) => ({
  cgroup: {
    timestamp,
    cpu: { usageNs: cpu },
    memory: { usageBytes: ws * 2, workingSetBytes: ws, rssBytes: ws, pageFaults: 1, majorPageFaults: 0 },
    pids: { current: pids },
  },
});

test('a pod without a cgroup of its own: the figures of its sandbox and containers added up', () => {
  const sum = sumCgroupStats([stats(10, 100, 1, 5), {}, stats(5, 50, 2, 7)]);
  assert.deepEqual(sum, {
    timestamp: 7,
    cpu: { usageNs: 15 },
    memory: { usageBytes: 300, workingSetBytes: 150, rssBytes: 150, pageFaults: 2, majorPageFaults: 0 },
    pids: { current: 3 },
  });
  assert.equal(sumCgroupStats([{}, {}]), undefined);
});
