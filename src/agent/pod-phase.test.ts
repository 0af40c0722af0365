import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerState, ContainerStatus, PodSpec, RestartPolicy } from './k8s-types.ts';
import { podPhase } from './pod-phase.ts';

const running: ContainerState = { running: { startedAt: '2024-01-01T00:00:00Z' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } });
const waiting = (reason: string): ContainerState => ({ waiting: { reason } });

function status(name: string, state: ContainerState, lastState: ContainerState = {}): ContainerStatus {
  return { name, state, lastState, ready: state.running !== undefined, restartCount: 0, image: 'i', imageID: '' };
}

function spec(restartPolicy: RestartPolicy, app: string[], init: string[] = []): PodSpec {
  return {
    restartPolicy,
    containers: app.map((name) => ({ name, image: 'i' })),
    initContainers: init.map((name) => ({ name, image: 'i' })),
  };
}

test('pending while containers are created or init containers run', () => {
  assert.equal(podPhase(spec('Always', ['a']), [], [status('a', waiting('ContainerCreating'))]), 'Pending');
  assert.equal(podPhase(spec('Always', ['a'], ['i']), [status('i', running)], [status('a', waiting('PodInitializing'))]), 'Pending');
  assert.equal(podPhase(spec('Always', ['a']), [], []), 'Pending');
});

test('running once every container started and one runs', () => {
  assert.equal(podPhase(spec('Always', ['a', 'b']), [], [status('a', running), status('b', exited(0))]), 'Running');
  assert.equal(podPhase(spec('Always', ['a', 'b']), [], [status('a', running), status('b', waiting('ContainerCreating'))]), 'Pending');
});

test('a crash loop keeps Always and OnFailure pods Running', () => {
  const crashLooping = [status('a', waiting('CrashLoopBackOff'), exited(1))];
  assert.equal(podPhase(spec('Always', ['a']), [], crashLooping), 'Running');
  assert.equal(podPhase(spec('OnFailure', ['a']), [], crashLooping), 'Running');
});

test('terminal phases follow the restart policy', () => {
  assert.equal(podPhase(spec('OnFailure', ['a']), [], [status('a', exited(0))]), 'Succeeded');
  assert.equal(podPhase(spec('Never', ['a', 'b']), [], [status('a', exited(0)), status('b', exited(0))]), 'Succeeded');
  assert.equal(podPhase(spec('Never', ['a', 'b']), [], [status('a', exited(0)), status('b', exited(2))]), 'Failed');
  assert.equal(podPhase(spec('Always', ['a']), [], [status('a', exited(0))]), 'Running');
});

test('a failed init container fails a Never pod and keeps others Pending', () => {
  assert.equal(podPhase(spec('Never', ['a'], ['i']), [status('i', exited(1))], [status('a', waiting('PodInitializing'))]), 'Failed');
  assert.equal(
    podPhase(
      spec('OnFailure', ['a'], ['i']),
      [status('i', waiting('CrashLoopBackOff'), exited(1))],
      [status('a', waiting('PodInitializing'))],
    ),
    'Pending',
  );
});

test('a restarted init container does not send an initialised pod back to Pending', () => {
  assert.equal(podPhase(spec('Always', ['a'], ['i']), [status('i', running)], [status('a', running)]), 'Running');
});
