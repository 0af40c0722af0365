// The v1 status of pods with sidecars (restartable init containers), from the runtime state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../../agent/k8s-types.ts';
import { runtimePodStatus } from './pod-status.ts';
import type { RuntimeContainer, RuntimeContainerState, RuntimePodState } from './runtime-state.ts';
import type { SyncReason } from './sync-reasons.ts';

const T0 = Date.parse('2026-05-01T10:00:00Z');

const pod: Pod = {
  metadata: { name: 'p', namespace: 'default', uid: 'u' },
  spec: {
    restartPolicy: 'Never',
    initContainers: [
      { name: 'setup', image: 'i' },
      { name: 'proxy', image: 'i', restartPolicy: 'Always' },
    ],
    containers: [{ name: 'app', image: 'i' }],
  },
};

let n = 0;
function c(name: string, state: RuntimeContainerState, extra: Partial<RuntimeContainer> = {}): RuntimeContainer {
  n++;
  return {
    id: `id${n}`,
    sandboxId: 'sb',
    name,
    restartCount: 0,
    state,
    createdAt: T0 + n * 1000,
    startedAt: T0 + n * 1000 + 100,
    finishedAt: state === 'exited' ? T0 + n * 1000 + 500 : 0,
    exitCode: 0,
    reason: '',
    message: '',
    image: 'i',
    imageRef: 'sha256:i',
    hash: 'h',
    ...extra,
  };
}

/** Containers given oldest first; the state lists them newest first, as the reader does. */
function state(...containers: RuntimeContainer[]): RuntimePodState {
  const sandbox = { id: 'sb', attempt: 0, ready: true, createdAt: T0, ips: ['10.78.0.7'], hostNetwork: false };
  return { uid: 'u', name: 'p', namespace: 'default', sandboxes: [sandbox], containers: containers.reverse() };
}

test('a running sidecar: in initContainerStatuses, running, started and ready; the pod Running and Ready', () => {
  const s = runtimePodStatus({
    pod,
    state: state(c('setup', 'exited'), c('proxy', 'running'), c('app', 'running')),
    reasons: new Map(),
    now: T0,
  });
  assert.deepEqual(
    s.initContainerStatuses?.map((x) => [x.name, Object.keys(x.state)[0], x.started, x.ready]),
    [
      ['setup', 'terminated', false, true],
      ['proxy', 'running', true, true],
    ],
  );
  assert.equal(s.phase, 'Running');
  assert.deepEqual(
    s.conditions?.filter((x) => x.type === 'Initialized' || x.type === 'Ready').map((x) => x.status),
    ['True', 'True'],
  );
});

test('a regular init container is not ready while it runs', () => {
  const s = runtimePodStatus({ pod, state: state(c('setup', 'running')), reasons: new Map(), now: T0 });
  assert.equal(s.initContainerStatuses?.[0]?.ready, false);
  assert.equal(s.phase, 'Pending');
});

test('a sidecar that exited with 0 and waits out its back-off shows CrashLoopBackOff, with its restart count', () => {
  const reasons = new Map<string, SyncReason>([
    ['proxy', { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=proxy' }],
  ]);
  const s = runtimePodStatus({
    pod,
    state: state(c('setup', 'exited'), c('proxy', 'exited'), c('app', 'running'), c('proxy', 'exited', { restartCount: 1 })),
    reasons,
    now: T0,
  });
  const proxy = s.initContainerStatuses?.find((x) => x.name === 'proxy');
  assert.equal(proxy?.state.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(proxy?.lastState.terminated?.exitCode, 0);
  assert.equal(proxy?.restartCount, 1);
  assert.equal(proxy?.ready, false);
  assert.equal(s.phase, 'Running');
  assert.equal(s.conditions?.find((x) => x.type === 'Ready')?.status, 'False');
});

test('app completed and sidecar stopped: Succeeded', () => {
  const s = runtimePodStatus({
    pod,
    state: state(c('setup', 'exited'), c('proxy', 'running'), c('app', 'exited')),
    reasons: new Map(),
    now: T0,
  });
  assert.equal(s.phase, 'Running', 'the sidecar still runs');
  const done = runtimePodStatus({
    pod,
    state: state(c('setup', 'exited'), c('proxy', 'exited', { exitCode: 143 }), c('app', 'exited')),
    reasons: new Map(),
    now: T0,
  });
  assert.equal(done.phase, 'Succeeded');
});
