import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerState, ContainerStatus, PodSpec } from './k8s-types.ts';
import { podConditions, withTransitionTimes } from './pod-conditions.ts';

function status(name: string, state: ContainerState, ready = state.running !== undefined): ContainerStatus {
  return { name, state, lastState: {}, ready, restartCount: 0, image: 'i', imageID: '' };
}

const spec: PodSpec = { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'init' }] };
const byType = (conditions: ReturnType<typeof podConditions>) => Object.fromEntries(conditions.map((c) => [c.type, c]));

test('initialising pod: reasons and messages as the kubelet words them', () => {
  const c = byType(
    podConditions({
      spec,
      phase: 'Pending',
      sandboxReady: true,
      initStatuses: [status('init', { running: {} })],
      statuses: [status('a', { waiting: { reason: 'PodInitializing' } }), status('b', { waiting: { reason: 'PodInitializing' } })],
    }),
  );
  assert.deepEqual(c.Initialized, {
    type: 'Initialized',
    status: 'False',
    reason: 'ContainersNotInitialized',
    message: 'containers with incomplete status: [init]',
  });
  assert.deepEqual(c.ContainersReady, {
    type: 'ContainersReady',
    status: 'False',
    reason: 'ContainersNotReady',
    message: 'containers with unready status: [a b]',
  });
  assert.deepEqual(c.Ready, {
    type: 'Ready',
    status: 'False',
    reason: 'ContainersNotReady',
    message: 'containers with unready status: [a b]',
  });
  assert.equal(c.PodScheduled!.status, 'True');
  assert.equal(c.PodReadyToStartContainers!.status, 'True');
});

test('running and ready pod', () => {
  const c = byType(
    podConditions({
      spec,
      phase: 'Running',
      sandboxReady: true,
      initStatuses: [status('init', { terminated: { exitCode: 0, reason: 'Completed' } })],
      statuses: [status('a', { running: {} }), status('b', { running: {} })],
    }),
  );
  for (const type of ['Initialized', 'ContainersReady', 'Ready', 'PodScheduled'] as const) assert.equal(c[type]!.status, 'True', type);
});

test('succeeded pod: PodCompleted', () => {
  const done = { terminated: { exitCode: 0, reason: 'Completed' } };
  const c = byType(
    podConditions({
      spec,
      phase: 'Succeeded',
      sandboxReady: false,
      initStatuses: [status('init', done)],
      statuses: [status('a', done), status('b', done)],
    }),
  );
  assert.deepEqual(c.Initialized, { type: 'Initialized', status: 'True', reason: 'PodCompleted' });
  assert.deepEqual(c.Ready, { type: 'Ready', status: 'False', reason: 'PodCompleted' });
});

test('transition times stay while the status stays', () => {
  const first = withTransitionTimes([{ type: 'Ready', status: 'False' }], undefined, 't1');
  assert.equal(first[0]!.lastTransitionTime, 't1');
  const same = withTransitionTimes([{ type: 'Ready', status: 'False', reason: 'X' }], first, 't2');
  assert.equal(same[0]!.lastTransitionTime, 't1');
  const changed = withTransitionTimes([{ type: 'Ready', status: 'True' }], same, 't3');
  assert.equal(changed[0]!.lastTransitionTime, 't3');
});
