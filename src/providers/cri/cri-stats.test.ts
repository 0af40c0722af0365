// The Summary API's pods from CRI stats: pod stats when the runtime gives them, container stats
// summed per pod when it cannot, CPU nanocores from two readings when the runtime leaves them out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { internal, unimplemented } from '../../errors/errors.ts';
import { CriStatsReader } from './cri-stats.ts';
import type { ObservedPod } from './runtime-reader.ts';

const SECOND = 1_000_000_000n;
const container = (id: string, name: string, state: 'running' | 'exited') => ({
  id,
  sandboxId: 'sb1',
  name,
  restartCount: 0,
  state,
  createdAt: Date.parse('2024-01-01T00:00:00Z'),
  startedAt: 0,
  finishedAt: 0,
  exitCode: 0,
  reason: '',
  message: '',
  image: 'x',
  imageRef: 'x',
  hash: '',
});
const pods = new Map<string, ObservedPod>([
  [
    'uid1',
    {
      uid: 'uid1',
      name: 'web',
      namespace: 'default',
      sandboxes: [{ id: 'sb1', attempt: 0, ready: true, createdAt: Date.parse('2024-01-01T00:00:00Z'), ips: [], hostNetwork: false }],
      containers: [container('c1', 'app', 'running'), container('c0', 'app', 'exited'), container('c2', 'side', 'running')],
    },
  ],
]);

function stats(id: string, at: bigint, cpuNs: bigint, memory: bigint) {
  return {
    attributes: { id, metadata: { name: '' }, labels: { 'io.kubernetes.container.name': id === 'c2' ? 'side' : 'app' } },
    cpu: { timestamp: at, usageCoreNanoSeconds: { value: cpuNs } },
    memory: { timestamp: at, workingSetBytes: { value: memory }, usageBytes: { value: memory * 2n } },
  };
}

function runtime(podStatsError: Error, readings: ReturnType<typeof stats>[][]): RuntimeClient {
  let call = 0;
  return {
    listPodSandboxStats: async () => {
      throw podStatsError;
    },
    listContainerStats: async () => ({ stats: readings[call++] }),
  } as unknown as RuntimeClient;
}

test('container stats summed per pod when the runtime cannot give pod stats; nanocores from two readings', async () => {
  const reader = new CriStatsReader(
    runtime(internal('internal', 'failed to get cgroup metrics because cgroupPath is empty'), [
      [stats('c1', 10n * SECOND, 4n * SECOND, 1000n), stats('c0', 10n * SECOND, 1n, 1n), stats('c2', 10n * SECOND, SECOND, 500n)],
      [stats('c1', 12n * SECOND, 5n * SECOND, 1100n), stats('c2', 12n * SECOND, SECOND, 500n)],
    ]),
    1000,
  );
  const signal = new AbortController().signal;
  const [first] = await reader.read(pods, signal);
  assert.deepEqual(first!.podRef, { name: 'web', namespace: 'default', uid: 'uid1' });
  assert.deepEqual(
    first!.containers.map((c) => [c.name, c.cpu?.usageNanoCores, c.memory?.workingSetBytes]),
    [
      ['app', undefined, 1000],
      ['side', undefined, 500],
    ],
    'the exited instance of app is left out',
  );
  assert.equal(first!.memory!.workingSetBytes, 1500);
  const [second] = await reader.read(pods, signal);
  assert.deepEqual(
    second!.containers.map((c) => [c.name, c.cpu?.usageNanoCores, c.cpu?.usageCoreNanoSeconds]),
    [
      ['app', 500_000_000, 5e9],
      ['side', 0, 1e9],
    ],
  );
  assert.equal(second!.cpu!.usageNanoCores, 500_000_000);
  assert.equal(second!.startTime, '2024-01-01T00:00:00Z');
});

test('a runtime without pod stats is not asked again', async () => {
  let asked = 0;
  const rt = {
    listPodSandboxStats: async () => {
      asked++;
      throw unimplemented('unimplemented', 'unknown method ListPodSandboxStats');
    },
    listContainerStats: async () => ({ stats: [stats('c1', SECOND, SECOND, 10n)] }),
  } as unknown as RuntimeClient;
  const reader = new CriStatsReader(rt, 1000);
  await reader.read(pods, new AbortController().signal);
  const [again] = await reader.read(pods, new AbortController().signal);
  assert.equal(asked, 1);
  assert.deepEqual(
    again!.containers.map((c) => c.name),
    ['app'],
  );
});
