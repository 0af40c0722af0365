import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodStatus } from './k8s-types.ts';
import { PodStatuses } from './pod-statuses.ts';
import type { ProbeResult } from './probes/probe-tracker.ts';
import { CONFIG_SEEN_ANNOTATION } from './static-pods/static-pod-manifest.ts';

const probed: Pod = {
  metadata: { name: 'web', namespace: 'default', uid: 'u1' },
  spec: { containers: [{ name: 'web', image: 'nginx', readinessProbe: { tcpSocket: { port: 80 } } }] },
};

const running: PodStatus = {
  phase: 'Running',
  conditions: [{ type: 'PodReadyToStartContainers', status: 'True' }],
  containerStatuses: [
    { name: 'web', containerID: 'c://1', state: { running: {} }, lastState: {}, ready: true, restartCount: 0, image: 'nginx', imageID: '' },
  ],
};

function readyCondition(status: PodStatus) {
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return { status: ready?.status, since: ready?.lastTransitionTime };
}

test('a pod the provider has not reported is Pending since the node first saw it, on the node address', () => {
  const statuses = new PodStatuses({ reported: () => undefined, probeResults: () => undefined, nodeIP: '10.151.0.7' });
  const pod: Pod = { ...probed, metadata: { ...probed.metadata, annotations: { [CONFIG_SEEN_ANNOTATION]: '2024-01-01T00:00:00Z' } } };
  const status = statuses.status(pod);
  assert.equal(status.phase, 'Pending');
  assert.equal(status.startTime, '2024-01-01T00:00:00Z');
  assert.equal(status.hostIP, '10.151.0.7');
  assert.deepEqual(
    status.containerStatuses?.map((c) => [c.name, c.state.waiting?.reason]),
    [['web', 'ContainerCreating']],
  );
});

test('without readiness or startup probes the reported status is the pod status', () => {
  const statuses = new PodStatuses({ reported: (uid) => (uid === 'u2' ? running : undefined), probeResults: () => 'failure' });
  const pod: Pod = {
    metadata: { name: 'plain', namespace: 'default', uid: 'u2' },
    spec: { containers: [{ name: 'web', image: 'nginx' }] },
  };
  assert.equal(statuses.status(pod), running);
  assert.deepEqual(statuses.withStatus(pod), { ...pod, status: running });
});

test('readiness results make the pod Ready; the transition time holds until the pod is forgotten', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2025-06-01T10:00:00Z') });
  let result: ProbeResult | undefined;
  const statuses = new PodStatuses({
    reported: () => running,
    probeResults: (id, kind) => (id === 'c://1' && kind === 'readiness' ? result : undefined),
  });

  assert.deepEqual(readyCondition(statuses.status(probed)), { status: 'False', since: '2025-06-01T10:00:00Z' });
  t.mock.timers.tick(5000);
  result = 'success';
  assert.deepEqual(readyCondition(statuses.status(probed)), { status: 'True', since: '2025-06-01T10:00:05Z' });
  t.mock.timers.tick(5000);
  assert.deepEqual(readyCondition(statuses.status(probed)), { status: 'True', since: '2025-06-01T10:00:05Z' });

  statuses.forget('u1');
  t.mock.timers.tick(5000);
  assert.deepEqual(readyCondition(statuses.status(probed)), { status: 'True', since: '2025-06-01T10:00:15Z' });
});
