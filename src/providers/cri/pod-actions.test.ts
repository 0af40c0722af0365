import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, RestartPolicy } from '../../agent/k8s-types.ts';
import { computePodActions, garbageToCollect } from './pod-actions.ts';
import type { RuntimeContainer, RuntimeContainerState, RuntimePodState, RuntimeSandbox } from './runtime-state.ts';

const hashOf = () => 'h1';

function pod(restartPolicy: RestartPolicy, app: string[], init: string[] = []): Pod {
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: {
      restartPolicy,
      containers: app.map((name) => ({ name, image: 'i' })),
      initContainers: init.map((name) => ({ name, image: 'i' })),
    },
  };
}

let clock = 1000;
function sandbox(ready: boolean, attempt = 0): RuntimeSandbox {
  return { id: `sb${attempt}`, attempt, ready, createdAt: clock++, ips: ready ? ['10.99.0.2'] : [], hostNetwork: false };
}

function container(name: string, state: RuntimeContainerState, exitCode = 0, extra: Partial<RuntimeContainer> = {}): RuntimeContainer {
  return {
    id: `${name}-${clock}`,
    sandboxId: 'sb0',
    name,
    restartCount: 0,
    state,
    createdAt: clock++,
    startedAt: 0,
    finishedAt: 0,
    exitCode,
    reason: '',
    message: '',
    image: 'i',
    imageRef: 'sha256:1',
    hash: 'h1',
    ...extra,
  };
}

function state(sandboxes: RuntimeSandbox[], containers: RuntimeContainer[]): RuntimePodState {
  return { uid: 'u', name: 'p', namespace: 'default', sandboxes, containers };
}

test('a new pod: create the sandbox, then the app containers', () => {
  const a = computePodActions(pod('Always', ['a', 'b']), state([], []), hashOf);
  assert.equal(a.createSandbox, true);
  assert.equal(a.attempt, 0);
  assert.deepEqual(a.containersToStart, ['a', 'b']);
  assert.deepEqual(a.initContainersToStart, []);
});

test('a new pod with init containers starts the first init container only', () => {
  const a = computePodActions(pod('Always', ['a'], ['i1', 'i2']), state([], []), hashOf);
  assert.equal(a.createSandbox, true);
  assert.deepEqual(a.initContainersToStart, ['i1']);
  assert.deepEqual(a.containersToStart, []);
});

test('init containers run one by one, then the app containers', () => {
  const p = pod('Always', ['a'], ['i1', 'i2']);
  const sb = sandbox(true);
  assert.deepEqual(computePodActions(p, state([sb], [container('i1', 'running')]), hashOf).containersToStart, []);
  assert.deepEqual(computePodActions(p, state([sb], [container('i1', 'running')]), hashOf).initContainersToStart, []);
  assert.deepEqual(computePodActions(p, state([sb], [container('i1', 'exited')]), hashOf).initContainersToStart, ['i2']);
  const done = computePodActions(p, state([sb], [container('i2', 'exited'), container('i1', 'exited')]), hashOf);
  assert.deepEqual(done.initContainersToStart, []);
  assert.deepEqual(done.containersToStart, ['a']);
});

test('a failed init container is retried, unless restartPolicy is Never', () => {
  const sb = sandbox(true);
  const failed = [container('i1', 'exited', 1)];
  assert.deepEqual(computePodActions(pod('OnFailure', ['a'], ['i1']), state([sb], failed), hashOf).initContainersToStart, ['i1']);
  const never = computePodActions(pod('Never', ['a'], ['i1']), state([sb], failed), hashOf);
  assert.equal(never.killPod, true);
  assert.deepEqual(never.initContainersToStart, []);
});

test('restart policy decides about exited containers', () => {
  const sb = sandbox(true);
  assert.deepEqual(computePodActions(pod('Always', ['a']), state([sb], [container('a', 'exited', 0)]), hashOf).containersToStart, ['a']);
  assert.deepEqual(computePodActions(pod('OnFailure', ['a']), state([sb], [container('a', 'exited', 1)]), hashOf).containersToStart, ['a']);
  const completed = computePodActions(pod('OnFailure', ['a']), state([sb], [container('a', 'exited', 0)]), hashOf);
  assert.deepEqual(completed.containersToStart, []);
  assert.equal(completed.killPod, true, 'nothing left to run: the sandbox is stopped');
  const never = computePodActions(pod('Never', ['a', 'b']), state([sb], [container('a', 'exited', 1), container('b', 'running')]), hashOf);
  assert.deepEqual(never.containersToStart, []);
  assert.equal(never.killPod, false, 'b still runs');
});

test('a running container with a changed spec is killed and started again', () => {
  const a = computePodActions(pod('Always', ['a']), state([sandbox(true)], [container('a', 'running', 0, { hash: 'old' })]), hashOf);
  assert.deepEqual(a.containersToStart, ['a']);
  assert.equal(a.containersToKill[0]?.name, 'a');
  assert.match(a.containersToKill[0]!.reason, /definition changed/);
});

test('a running pod in line with its spec needs nothing', () => {
  const a = computePodActions(pod('Always', ['a']), state([sandbox(true)], [container('a', 'running')]), hashOf);
  assert.deepEqual(a, {
    killPod: false,
    createSandbox: false,
    sandboxId: 'sb0',
    attempt: 0,
    initContainersToStart: [],
    containersToStart: [],
    containersToKill: [],
  });
});

test('a dead sandbox is replaced with the next attempt; a finished Never pod is not', () => {
  const dead = sandbox(false, 2);
  const a = computePodActions(pod('Always', ['a']), state([dead], [container('a', 'exited', 137)]), hashOf);
  assert.equal(a.killPod, true);
  assert.equal(a.createSandbox, true);
  assert.equal(a.attempt, 3);
  assert.deepEqual(a.containersToStart, ['a']);
  const never = computePodActions(pod('Never', ['a']), state([dead], [container('a', 'exited', 0)]), hashOf);
  assert.equal(never.createSandbox, false);
  const onFailureDone = computePodActions(pod('OnFailure', ['a']), state([dead], [container('a', 'exited', 0)]), hashOf);
  assert.equal(onFailureDone.createSandbox, false, 'every container succeeded: no new sandbox');
  const onFailureRetry = computePodActions(
    pod('OnFailure', ['a', 'b']),
    state([dead], [container('a', 'exited', 0), container('b', 'exited', 1)]),
    hashOf,
  );
  assert.deepEqual(onFailureRetry.containersToStart, ['b'], 'succeeded containers are not run again');
});

test('a ready sandbox without an IP is replaced', () => {
  const noIp = { ...sandbox(true), ips: [] };
  assert.equal(computePodActions(pod('Always', ['a']), state([noIp], []), hashOf).createSandbox, true);
  const hostNet = { ...noIp, hostNetwork: true };
  const p = pod('Always', ['a']);
  p.spec.hostNetwork = true;
  assert.equal(computePodActions(p, state([hostNet], [container('a', 'running')]), hashOf).createSandbox, false);
});

test('created or unknown containers are started again', () => {
  const sb = sandbox(true);
  const unknown = container('a', 'unknown');
  const a = computePodActions(pod('Never', ['a']), state([sb], [unknown]), hashOf);
  assert.deepEqual(a.containersToStart, ['a']);
  assert.deepEqual(
    a.containersToKill.map((k) => k.id),
    [unknown.id],
  );
});

test('garbage: older exited containers and stopped old sandboxes', () => {
  const newSb = sandbox(true, 1);
  const oldSb = { ...sandbox(false, 0), id: 'old' };
  const running = container('a', 'running', 0, { sandboxId: newSb.id });
  const lastDead = container('a', 'exited', 1, { sandboxId: newSb.id });
  const olderDead = container('a', 'exited', 1, { sandboxId: 'old' });
  const initDone = container('i', 'exited', 0, { sandboxId: 'old' });
  const s = state([newSb, oldSb], [running, lastDead, olderDead, initDone]);
  assert.deepEqual(garbageToCollect(s), { containerIds: [olderDead.id], sandboxIds: [] }, 'the old sandbox still holds the init container');
  const s2 = state([newSb, oldSb], [running, lastDead, olderDead]);
  assert.deepEqual(garbageToCollect(s2), { containerIds: [olderDead.id], sandboxIds: ['old'] });
});

test('garbage: a crashed newest run is the dead instance kept; every older dead run goes, per container name', () => {
  const sb = sandbox(true, 0);
  const newest = container('a', 'exited', 1, { restartCount: 3 });
  const older = [2, 1, 0].map((n) => container('a', 'exited', 1, { restartCount: n }));
  const other = container('b', 'running', 0);
  const otherDead = container('b', 'exited', 0, { restartCount: 0 });
  assert.deepEqual(garbageToCollect(state([sb], [newest, ...older, other, otherDead])), {
    containerIds: older.map((c) => c.id),
    sandboxIds: [],
  });
});
