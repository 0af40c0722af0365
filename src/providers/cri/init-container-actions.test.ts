import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Pod, RestartPolicy } from '../../agent/k8s-types.ts';
import { computeInitContainerActions, sidecarNames } from './init-container-actions.ts';
import { computePodActions } from './pod-actions.ts';
import type { RuntimeContainer, RuntimeContainerState, RuntimePodState } from './runtime-state.ts';

const hashOf = () => 'h1';

/** Init containers by name; a `+` prefix makes a sidecar, `+name!` one with a startup probe. */
function pod(restartPolicy: RestartPolicy, init: string[], app: string[] = ['app'], deleting = false): Pod {
  const initContainers: Container[] = init.map((spec) => {
    const sidecar = spec.startsWith('+');
    const probed = spec.endsWith('!');
    const name = spec.replace(/^\+/, '').replace(/!$/, '');
    return {
      name,
      image: 'i',
      ...(sidecar ? { restartPolicy: 'Always' as const } : {}),
      ...(probed ? { startupProbe: { exec: { command: ['true'] } } } : {}),
    };
  });
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'u', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { restartPolicy, initContainers, containers: app.map((name) => ({ name, image: 'i' })) },
  };
}

let clock = 1000;
/** Containers newest first, as the runtime reader sorts them. */
function c(name: string, state: RuntimeContainerState, exitCode = 0, hash = 'h1'): RuntimeContainer {
  clock++;
  return {
    id: `${name}-${clock}`,
    sandboxId: 'sb0',
    name,
    restartCount: 0,
    state,
    createdAt: clock,
    startedAt: clock,
    finishedAt: state === 'exited' ? clock : 0,
    exitCode,
    reason: '',
    message: '',
    image: 'i',
    imageRef: 'sha256:1',
    hash,
  };
}

function state(...containers: RuntimeContainer[]): RuntimePodState {
  const sandbox = { id: 'sb0', attempt: 0, ready: true, createdAt: 1, ips: ['10.78.0.9'], hostNetwork: false };
  return { uid: 'u', name: 'p', namespace: 'default', sandboxes: [sandbox], containers };
}

type StartupCheck = (container: RuntimeContainer) => boolean;
const never: StartupCheck = () => false;
const always: StartupCheck = () => true;

function actions(p: Pod, s: RuntimePodState, startupSucceeded: StartupCheck = never) {
  return computeInitContainerActions({ pod: p, state: s, hashOf, startupSucceeded });
}

test('sidecar names keep declaration order and leave regular init containers out', () => {
  assert.deepEqual(sidecarNames(pod('Always', ['+a', 'b', '+c'])), ['a', 'c']);
});

test('a running sidecar without a startup probe is done: the next init container starts while it keeps running', () => {
  const p = pod('Always', ['+proxy', 'migrate']);
  assert.deepEqual(actions(p, state()).toStart, ['proxy']);
  const running = actions(p, state(c('proxy', 'running')));
  assert.deepEqual(running.toStart, ['migrate']);
  assert.equal(running.initialized, false);
  assert.deepEqual(actions(p, state(c('migrate', 'running'), c('proxy', 'running'))).toStart, []);
  const done = actions(p, state(c('migrate', 'exited'), c('proxy', 'running')));
  assert.deepEqual(done.toStart, []);
  assert.equal(done.initialized, true);
});

test('a sidecar as the last init container initialises the pod once running; the app containers start next to it', () => {
  const p = pod('Always', ['setup', '+proxy']);
  assert.deepEqual(actions(p, state(c('setup', 'exited'))).toStart, ['proxy']);
  const a = computePodActions(p, state(c('proxy', 'running'), c('setup', 'exited')), hashOf);
  assert.deepEqual(a.initContainersToStart, []);
  assert.deepEqual(a.containersToStart, ['app']);
  assert.equal(a.killPod, false);
});

test('a sidecar with a startup probe holds the next init container back until the probe succeeded', () => {
  const p = pod('Always', ['+proxy!', 'migrate']);
  const s = state(c('proxy', 'running'));
  assert.deepEqual(actions(p, s, never).toStart, []);
  assert.deepEqual(computePodActions(p, s, hashOf, never).containersToStart, []);
  let asked: RuntimeContainer | undefined;
  const started = actions(p, s, (container) => {
    asked = container;
    return true;
  });
  assert.deepEqual(started.toStart, ['migrate']);
  assert.equal(asked?.id, s.containers[0]!.id);
});

test('an exited sidecar is restarted whatever the restartPolicy, and the app keeps running', () => {
  for (const policy of ['Always', 'OnFailure', 'Never'] as const) {
    for (const exitCode of [0, 1]) {
      const p = pod(policy, ['+proxy']);
      const a = computePodActions(p, state(c('proxy', 'exited', exitCode), c('app', 'running')), hashOf, always);
      assert.deepEqual(a.initContainersToStart, ['proxy'], `${policy} exit ${exitCode}`);
      assert.equal(a.killPod, false);
      assert.deepEqual(a.containersToStart, []);
      assert.deepEqual(a.containersToKill, []);
    }
  }
});

test('a sidecar removed from the runtime after initialisation is started again; regular init containers are not', () => {
  const p = pod('Always', ['setup', '+proxy', '+metrics']);
  const a = computePodActions(p, state(c('app', 'running'), c('metrics', 'running')), hashOf);
  assert.deepEqual(a.initContainersToStart, ['proxy']);
  assert.deepEqual(a.containersToStart, []);
});

test('a running sidecar whose definition changed is killed and started again', () => {
  const p = pod('Always', ['+proxy']);
  const old = c('proxy', 'running', 0, 'h0');
  const a = computePodActions(p, state(c('app', 'running'), old), hashOf);
  assert.deepEqual(a.initContainersToStart, ['proxy']);
  assert.deepEqual(a.containersToKill, [{ id: old.id, name: 'proxy', reason: 'Init container proxy definition changed' }]);
});

test('a sidecar in unknown state is killed before it restarts, even in a Never pod', () => {
  const p = pod('Never', ['+proxy']);
  const lost = c('proxy', 'unknown');
  const a = computePodActions(p, state(c('app', 'running'), lost), hashOf);
  assert.equal(a.killPod, false);
  assert.deepEqual(a.initContainersToStart, ['proxy']);
  assert.equal(a.containersToKill[0]?.id, lost.id);
});

test('a failed regular init container after a sidecar: retried, or the pod is done under Never', () => {
  const s = state(c('migrate', 'exited', 1), c('proxy', 'running'));
  assert.deepEqual(actions(pod('OnFailure', ['+proxy', 'migrate']), s).toStart, ['migrate']);
  const done = computePodActions(pod('Never', ['+proxy', 'migrate']), s, hashOf);
  assert.equal(done.killPod, true);
  assert.deepEqual(done.initContainersToStart, []);
});

test('sidecars do not keep a pod alive: once the app containers completed the pod is killed, the sidecar not restarted', () => {
  for (const policy of ['Never', 'OnFailure'] as const) {
    const p = pod(policy, ['+proxy']);
    const running = computePodActions(p, state(c('app', 'exited', 0), c('proxy', 'running')), hashOf);
    assert.equal(running.killPod, true, policy);
    assert.equal(running.createSandbox, false);
    const exited = computePodActions(p, state(c('app', 'exited', 0), c('proxy', 'exited', 143)), hashOf);
    assert.equal(exited.killPod, true);
    assert.deepEqual(exited.initContainersToStart, []);
  }
  const failed = computePodActions(pod('Never', ['+proxy']), state(c('app', 'exited', 2), c('proxy', 'running')), hashOf);
  assert.equal(failed.killPod, true);
});

test('a pod being deleted restarts no sidecar', () => {
  const p = pod('Always', ['+proxy'], ['app'], true);
  assert.deepEqual(actions(p, state(c('app', 'running'), c('proxy', 'exited', 1))).toStart, []);
});

test('after its sandbox died, a completed Never pod with a sidecar gets no new sandbox', () => {
  const p = pod('OnFailure', ['+proxy']);
  const s = state(c('app', 'exited', 0), c('proxy', 'exited', 137));
  s.sandboxes[0]!.ready = false;
  const a = computePodActions(p, s, hashOf);
  assert.equal(a.createSandbox, false);
  assert.deepEqual(a.initContainersToStart, []);
});

test('a new sandbox starts with the first init container, a sidecar like any other', () => {
  const p = pod('Always', ['+proxy', 'migrate']);
  const s = state(c('app', 'running'), c('proxy', 'running'));
  s.sandboxes[0]!.ready = false;
  const a = computePodActions(p, s, hashOf);
  assert.equal(a.createSandbox, true);
  assert.deepEqual(a.initContainersToStart, ['proxy']);
  assert.deepEqual(a.containersToStart, []);
});
