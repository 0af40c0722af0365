// The fake's pod defaults and QoS classes, against what the API reference documents.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Loose } from './api-object.ts';
import { defaultPod, qosClass } from './pod-defaults.ts';
import { quantityValue } from './quantity.ts';

const container = (resources?: Loose, extra: Loose = {}) => ({
  name: 'c',
  image: 'busybox:1',
  ...(resources ? { resources } : {}),
  ...extra,
});

test('QoS: Guaranteed when every container limits cpu and memory at its requests; Burstable otherwise; BestEffort without any', () => {
  const both = { limits: { cpu: '500m', memory: '1Gi' } };
  const guaranteed: Loose = { containers: [container(both), container({ limits: { cpu: '0.5', memory: '1024Mi' } })] };
  defaultPod({ spec: guaranteed });
  assert.equal(qosClass(guaranteed), 'Guaranteed', 'requests default to limits; 0.5 is 500m, 1024Mi is 1Gi');
  const lower: Loose = { containers: [container({ requests: { cpu: '100m' }, limits: { cpu: '500m', memory: '1Gi' } })] };
  defaultPod({ spec: lower });
  assert.equal(qosClass(lower), 'Burstable');
  const oneUnlimited: Loose = { containers: [container(both), container()] };
  assert.equal(qosClass(oneUnlimited), 'Burstable');
  assert.equal(qosClass({ containers: [container({ limits: { 'example.com/gpu': '1' } })] }), 'BestEffort', 'only cpu and memory count');
  assert.equal(qosClass({ containers: [container({ requests: { cpu: '0' } })] }), 'BestEffort', 'zero requests do not count');
});

test('defaults: probes and hooks, host-network ports, env field refs; the tolerations only when not tolerated already', () => {
  const pod: Loose = {
    spec: {
      hostNetwork: true,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        container(undefined, {
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { port: 8080 } },
          lifecycle: { preStop: { httpGet: { port: 80 } } },
          env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        }),
      ],
    },
  };
  defaultPod(pod);
  const c = pod.spec.containers[0];
  assert.deepEqual(c.ports, [{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }]);
  assert.deepEqual(c.readinessProbe, {
    httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(c.lifecycle.preStop.httpGet, { port: 80, path: '/', scheme: 'HTTP' });
  assert.equal(c.env[0].valueFrom.fieldRef.apiVersion, 'v1');
  assert.deepEqual(pod.spec.tolerations, [{ operator: 'Exists' }], 'a toleration of everything tolerates both taints');
  assert.equal(pod.spec.terminationGracePeriodSeconds, 30);
});

test('quantities', () => {
  assert.deepEqual(['100m', '1.5', '2k', '64Mi', '1e3', '1Gi', 'x'].map(quantityValue), [0.1, 1.5, 2000, 64 * 2 ** 20, 1000, 2 ** 30, 0]);
});
