// Pod phase and conditions of pods with sidecars (restartable init containers), as the kubelet's
// getPhase and status generators treat them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerState, ContainerStatus, PodSpec, PodStatus, RestartPolicy } from './k8s-types.ts';
import { podConditions } from './pod-conditions.ts';
import { podPhase } from './pod-phase.ts';
import { withProbeResults } from './probes/probe-status.ts';

const running: ContainerState = { running: { startedAt: '2026-01-01T00:00:00Z' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } });
const waiting = (reason: string): ContainerState => ({ waiting: { reason } });

function status(name: string, state: ContainerState, extra: Partial<ContainerStatus> = {}): ContainerStatus {
  const up = state.running !== undefined;
  return { name, state, lastState: {}, ready: up, started: up, restartCount: 0, image: 'i', imageID: '', ...extra };
}

function spec(restartPolicy: RestartPolicy, init: string[] = ['setup', '+proxy']): PodSpec {
  return {
    restartPolicy,
    containers: [{ name: 'app', image: 'i' }],
    initContainers: init.map((n) => ({
      name: n.replace('+', ''),
      image: 'i',
      ...(n.startsWith('+') ? { restartPolicy: 'Always' as const } : {}),
    })),
  };
}

const byType = (s: PodSpec, phase: ReturnType<typeof podPhase>, init: ContainerStatus[], app: ContainerStatus[]) =>
  Object.fromEntries(podConditions({ spec: s, phase, initStatuses: init, statuses: app, sandboxReady: true }).map((c) => [c.type, c]));

test('a sidecar not started yet keeps the pod Pending and not Initialized', () => {
  const s = spec('Always');
  const init = [status('setup', exited(0)), status('proxy', running, { started: false, ready: false })];
  const app = [status('app', waiting('PodInitializing'))];
  assert.equal(podPhase(s, init, app), 'Pending');
  const conditions = byType(s, 'Pending', init, app);
  assert.equal(conditions.Initialized?.status, 'False');
  assert.equal(conditions.Initialized?.message, 'containers with incomplete status: [proxy]');
});

test('a started sidecar initialises the pod; its readiness counts for ContainersReady and Ready', () => {
  const s = spec('Always');
  const init = [status('setup', exited(0)), status('proxy', running, { ready: false })];
  const app = [status('app', running)];
  assert.equal(podPhase(s, init, app), 'Running');
  const conditions = byType(s, 'Running', init, app);
  assert.equal(conditions.Initialized?.status, 'True');
  assert.equal(conditions.ContainersReady?.status, 'False');
  assert.equal(conditions.ContainersReady?.message, 'containers with unready status: [proxy]');
  assert.equal(conditions.Ready?.status, 'False');
  const ready = byType(s, 'Running', [init[0]!, status('proxy', running)], app);
  assert.equal(ready.Ready?.status, 'True');
});

test('a crashed sidecar does not take the pod back to Pending nor out of Running', () => {
  const s = spec('Never');
  const crashed = status('proxy', waiting('CrashLoopBackOff'), { lastState: exited(1), ready: false, started: false });
  const init = [status('setup', exited(0)), crashed];
  assert.equal(podPhase(s, init, [status('app', running)]), 'Running');
  assert.equal(byType(s, 'Running', init, [status('app', running)]).Initialized?.status, 'True');
});

test('completed app containers: Running while the sidecar still runs, then Succeeded or Failed once it is stopped', () => {
  const s = spec('Never');
  const init = (proxy: ContainerState) => [status('setup', exited(0)), status('proxy', proxy)];
  assert.equal(podPhase(s, init(running), [status('app', exited(0))]), 'Running');
  assert.equal(podPhase(s, init(exited(143)), [status('app', exited(0))]), 'Succeeded');
  assert.equal(podPhase(s, init(exited(0)), [status('app', exited(1))]), 'Failed');
  assert.equal(podPhase(spec('OnFailure'), init(exited(143)), [status('app', exited(0))]), 'Succeeded');
  const conditions = byType(s, 'Succeeded', init(exited(143)), [status('app', exited(0))]);
  assert.equal(conditions.Initialized?.reason, 'PodCompleted');
  assert.equal(conditions.ContainersReady?.reason, 'PodCompleted');
});

test('a sidecar with no status at all leaves the pod Pending', () => {
  const s = spec('Always', ['+proxy']);
  assert.equal(podPhase(s, [], [status('app', running)]), 'Pending');
});

test("probe results apply to sidecars' started and ready, and the conditions follow", () => {
  const s: PodSpec = {
    containers: [{ name: 'app', image: 'i' }],
    initContainers: [
      { name: 'setup', image: 'i' },
      {
        name: 'proxy',
        image: 'i',
        restartPolicy: 'Always',
        startupProbe: { exec: { command: ['true'] } },
        readinessProbe: { exec: { command: ['true'] } },
      },
    ],
  };
  const reported: PodStatus = {
    phase: 'Running',
    conditions: [{ type: 'PodReadyToStartContainers', status: 'True' }],
    initContainerStatuses: [
      status('setup', exited(0), { containerID: 'containerd://s', ready: false }),
      status('proxy', running, { containerID: 'containerd://p' }),
    ],
    containerStatuses: [status('app', running, { containerID: 'containerd://a' })],
  };
  const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: s };
  const results = new Map<string, 'success' | 'failure'>();
  const probed = () => withProbeResults(pod, reported, (id, kind) => results.get(`${id}/${kind}`), undefined, '2026-01-01T00:00:01Z');
  let out = probed();
  assert.deepEqual(
    out.initContainerStatuses?.map((c) => [c.name, c.started, c.ready]),
    [
      ['setup', false, false],
      ['proxy', false, false],
    ],
  );
  assert.equal(out.conditions?.find((c) => c.type === 'Initialized')?.status, 'True'); // the app runs: initialised before
  assert.equal(out.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  results.set('containerd://p/startup', 'success');
  results.set('containerd://p/readiness', 'success');
  out = probed();
  assert.deepEqual(
    out.initContainerStatuses?.map((c) => [c.name, c.started, c.ready]),
    [
      ['setup', false, false],
      ['proxy', true, true],
    ],
  );
  assert.equal(out.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
});
