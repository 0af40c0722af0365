import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Pod } from '../k8s-types.ts';
import { withPodDefaults } from '../pod-defaults.ts';
import { validatePod } from './pod-validation.ts';

const podWith = (initContainers: Container[]): Pod =>
  withPodDefaults({ metadata: { name: 'p' }, spec: { initContainers, containers: [{ name: 'app', image: 'busybox' }] } });

const probe = { exec: { command: ['true'] } };

test('sidecars (restartPolicy: Always) may have probes and lifecycle hooks', () => {
  const pod = podWith([
    {
      name: 'proxy',
      image: 'busybox',
      restartPolicy: 'Always',
      startupProbe: probe,
      livenessProbe: probe,
      readinessProbe: probe,
      lifecycle: { preStop: { exec: { command: ['true'] } } },
    },
    { name: 'setup', image: 'busybox' },
  ]);
  assert.deepEqual(validatePod(pod), []);
});

test('regular init containers may have neither probes nor hooks; restartPolicy is Always or nothing', () => {
  const errors = validatePod(
    podWith([
      { name: 'a', image: 'busybox', livenessProbe: probe, readinessProbe: probe, startupProbe: probe },
      { name: 'b', image: 'busybox', restartPolicy: 'Never' as 'Always' },
    ]),
  );
  assert.deepEqual(errors, [
    'spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    'spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    'spec.initContainers[0].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    'spec.initContainers[1].restartPolicy: Unsupported value: "Never": supported values: "Always"',
  ]);
});

test("a sidecar's probes are checked as an app container's: liveness and startup need successThreshold 1", () => {
  const errors = validatePod(
    podWith([{ name: 'proxy', image: 'busybox', restartPolicy: 'Always', livenessProbe: { ...probe, successThreshold: 2 } }]),
  );
  assert.deepEqual(errors, ['spec.initContainers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1']);
});

test('app containers may not set restartPolicy', () => {
  const pod = withPodDefaults({
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'app', image: 'busybox', restartPolicy: 'Always' }] },
  });
  assert.deepEqual(validatePod(pod), ['spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers']);
});
