import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { linuxContainerResources, milliCpuToQuota, milliCpuToShares, oomScoreAdj } from './container-resources.ts';

const GiB = 2 ** 30;
const pod = (...containers: Container[]): Pod => ({ metadata: { name: 'p' }, spec: { containers } });

test('shares and quota', () => {
  assert.equal(milliCpuToShares(0), 2);
  assert.equal(milliCpuToShares(1), 2);
  assert.equal(milliCpuToShares(250), 256);
  assert.equal(milliCpuToShares(1000), 1024);
  assert.equal(milliCpuToQuota(0), 0);
  assert.equal(milliCpuToQuota(5), 1000);
  assert.equal(milliCpuToQuota(500), 50_000);
});

test('OOM score by QoS class', () => {
  const best = { name: 'a' };
  assert.equal(oomScoreAdj(pod(best), best, 8 * GiB), 1000);
  const guaranteed = { name: 'a', resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } };
  assert.equal(oomScoreAdj(pod(guaranteed), guaranteed, 8 * GiB), -997);
  const burstable = { name: 'a', resources: { requests: { memory: '2Gi' } } };
  assert.equal(oomScoreAdj(pod(burstable), burstable, 8 * GiB), 750);
  const tiny = { name: 'a', resources: { requests: { cpu: '10m' } } };
  assert.equal(oomScoreAdj(pod(tiny), tiny, 8 * GiB), 999);
  const huge = { name: 'a', resources: { requests: { memory: '8Gi' } } };
  assert.equal(oomScoreAdj(pod(huge), huge, 8 * GiB), 3);
});

test('linux resources: request defaults to limit for shares; memory limit; cgroup v2 oom group', () => {
  const c = { name: 'a', resources: { limits: { cpu: '500m', memory: '64Mi' } } };
  assert.deepEqual(linuxContainerResources(pod(c), c, { nodeMemoryBytes: 8 * GiB, cgroupV2: true }), {
    cpuShares: 512n,
    cpuPeriod: 100_000n,
    cpuQuota: 50_000n,
    memoryLimitInBytes: 67_108_864n,
    oomScoreAdj: 999n,
    unified: { 'memory.oom.group': '1' },
  });
});
