import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodStatus } from '../k8s-types.ts';
import { withProbeResults } from './probe-status.ts';
import type { ProbeKind, ProbeResult } from './probe-tracker.ts';

const pod: Pod = {
  metadata: { name: 'p', uid: 'u' },
  spec: {
    containers: [{ name: 'web', readinessProbe: { tcpSocket: { port: 80 } }, startupProbe: { tcpSocket: { port: 80 } } }, { name: 'side' }],
  },
};

const status: PodStatus = {
  phase: 'Running',
  conditions: [{ type: 'PodReadyToStartContainers', status: 'True' }],
  containerStatuses: [
    { name: 'side', containerID: 'c://2', state: { running: {} }, lastState: {}, ready: true, restartCount: 0, image: '', imageID: '' },
    { name: 'web', containerID: 'c://1', state: { running: {} }, lastState: {}, ready: true, restartCount: 0, image: '', imageID: '' },
  ],
};

function results(map: Record<string, ProbeResult>) {
  return (id: string, kind: ProbeKind) => map[`${id}/${kind}`];
}

test('not started until the startup probe succeeds; not ready until readiness does', () => {
  const before = withProbeResults(pod, status, results({}), undefined, 't1');
  const web = before.containerStatuses!.find((c) => c.name === 'web')!;
  assert.deepEqual([web.started, web.ready], [false, false]);
  assert.equal(before.containerStatuses!.find((c) => c.name === 'side')!.ready, true);
  assert.deepEqual(
    before.conditions!.find((c) => c.type === 'Ready'),
    {
      type: 'Ready',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [web]',
      lastProbeTime: null,
      lastTransitionTime: 't1',
    },
  );
  const started = withProbeResults(pod, status, results({ 'c://1/startup': 'success' }), before.conditions, 't2');
  assert.deepEqual([started.containerStatuses![1]!.started, started.containerStatuses![1]!.ready], [true, false]);
  const ready = withProbeResults(
    pod,
    status,
    results({ 'c://1/startup': 'success', 'c://1/readiness': 'success' }),
    started.conditions,
    't3',
  );
  assert.equal(ready.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  assert.equal(ready.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, 't3');
  assert.equal(ready.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime, 't1');
});
