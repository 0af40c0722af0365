import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, RestartPolicy } from '../../agent/k8s-types.ts';
import { runtimePodStatus } from './pod-status.ts';
import type { RuntimeContainer, RuntimeContainerState, RuntimePodState, RuntimeSandbox } from './runtime-state.ts';
import type { SyncReason } from './sync-reasons.ts';

const T0 = Date.parse('2024-05-01T10:00:00Z');

function pod(restartPolicy: RestartPolicy, app: string[], init: string[] = []): Pod {
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: {
      restartPolicy,
      containers: app.map((name) => ({ name, image: `${name}:1` })),
      initContainers: init.map((name) => ({ name, image: `${name}:1` })),
    },
  };
}

const sandbox: RuntimeSandbox = { id: 'sb', attempt: 0, ready: true, createdAt: T0, ips: ['10.99.0.7'], hostNetwork: false };
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
    startedAt: state === 'created' ? 0 : T0 + n * 1000 + 100,
    finishedAt: state === 'exited' ? T0 + n * 1000 + 500 : 0,
    exitCode: 0,
    reason: '',
    message: '',
    image: `${name}:1`,
    imageRef: `sha256:${name}`,
    hash: 'h',
    ...extra,
  };
}

function state(containers: RuntimeContainer[], sandboxes = [sandbox]): RuntimePodState {
  return { uid: 'u', name: 'p', namespace: 'default', sandboxes, containers };
}

const noReasons = new Map<string, SyncReason>();

test('before anything runs: ContainerCreating, Pending, no IP', () => {
  const s = runtimePodStatus({ pod: pod('Always', ['a']), state: state([], []), reasons: noReasons, now: T0, hostIP: '192.0.2.1' });
  assert.equal(s.phase, 'Pending');
  assert.deepEqual(s.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
  assert.equal(s.podIP, undefined);
  assert.equal(s.hostIP, '192.0.2.1');
  assert.equal(s.qosClass, 'BestEffort');
});

test('a running container: Running, ready, IP, containerID and image ID', () => {
  const s = runtimePodStatus({ pod: pod('Always', ['a']), state: state([c('a', 'running')]), reasons: noReasons, now: T0 });
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '10.99.0.7');
  const a = s.containerStatuses![0]!;
  assert.equal(a.ready, true);
  assert.equal(a.started, true);
  assert.match(a.containerID!, /^containerd:\/\/id\d+$/);
  assert.equal(a.imageID, 'sha256:a');
  assert.ok(a.state.running?.startedAt);
  assert.equal(s.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
});

test('a crash loop: CrashLoopBackOff waiting, the last run as lastState, restart count', () => {
  const latest = c('a', 'exited', { exitCode: 1, reason: 'Error', restartCount: 3 });
  const before = c('a', 'exited', { exitCode: 1, reason: 'Error', restartCount: 2 });
  const reasons = new Map([['a', { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=a pod=p_default(u)' }]]);
  const s = runtimePodStatus({ pod: pod('Always', ['a']), state: state([latest, before]), reasons, now: T0 });
  const a = s.containerStatuses![0]!;
  assert.deepEqual(a.state, { waiting: reasons.get('a') });
  assert.equal(a.lastState.terminated?.exitCode, 1);
  assert.equal(a.lastState.terminated?.reason, 'Error');
  assert.equal(a.restartCount, 3);
  assert.equal(s.phase, 'Running');
});

test('a restarted container shows the previous run as lastState', () => {
  const s = runtimePodStatus({
    pod: pod('Always', ['a']),
    state: state([c('a', 'running', { restartCount: 1 }), c('a', 'exited', { exitCode: 137, reason: 'OOMKilled' })]),
    reasons: noReasons,
    now: T0,
  });
  const a = s.containerStatuses![0]!;
  assert.ok(a.state.running);
  assert.deepEqual([a.lastState.terminated?.reason, a.lastState.terminated?.exitCode, a.restartCount], ['OOMKilled', 137, 1]);
});

test('image pull failures show as the waiting reason', () => {
  const reasons = new Map([['a', { reason: 'ErrImagePull', message: 'failed to pull' }]]);
  const s = runtimePodStatus({ pod: pod('Always', ['a']), state: state([]), reasons, now: T0 });
  assert.deepEqual(s.containerStatuses![0]!.state, { waiting: { reason: 'ErrImagePull', message: 'failed to pull' } });
  assert.equal(s.phase, 'Pending');
});

test('init containers then completion: Succeeded with Completed states', () => {
  const p = pod('OnFailure', ['a'], ['init']);
  const initializing = runtimePodStatus({ pod: p, state: state([c('init', 'running')]), reasons: noReasons, now: T0 });
  assert.equal(initializing.phase, 'Pending');
  assert.deepEqual(initializing.containerStatuses![0]!.state, { waiting: { reason: 'PodInitializing' } });
  assert.equal(initializing.conditions?.find((x) => x.type === 'Initialized')?.status, 'False');

  const done = runtimePodStatus({
    pod: p,
    state: state([c('a', 'exited'), c('init', 'exited')], [{ ...sandbox, ready: false, ips: [] }]),
    reasons: noReasons,
    now: T0,
    previous: initializing,
  });
  assert.equal(done.phase, 'Succeeded');
  assert.equal(done.initContainerStatuses![0]!.state.terminated?.reason, 'Completed');
  assert.equal(done.containerStatuses![0]!.state.terminated?.reason, 'Completed');
  assert.equal(done.podIP, '10.99.0.7', 'the IP stays after the sandbox stopped');
  assert.equal(done.conditions?.find((x) => x.type === 'Ready')?.reason, 'PodCompleted');
});

test('a succeeded init container is never shown as waiting, even with an old reason', () => {
  const p = pod('Always', ['a'], ['init']);
  const reasons = new Map([['init', { reason: 'CrashLoopBackOff', message: 'old' }]]);
  const s = runtimePodStatus({ pod: p, state: state([c('a', 'running'), c('init', 'exited')]), reasons, now: T0 });
  assert.ok(s.initContainerStatuses![0]!.state.terminated);
});

test('app container statuses are sorted by name, init ones keep spec order', () => {
  const s = runtimePodStatus({ pod: pod('Always', ['zeta', 'alpha'], ['second', 'first']), state: state([]), reasons: noReasons, now: T0 });
  assert.deepEqual(
    s.containerStatuses!.map((x) => x.name),
    ['alpha', 'zeta'],
  );
  assert.deepEqual(
    s.initContainerStatuses!.map((x) => x.name),
    ['second', 'first'],
  );
});
