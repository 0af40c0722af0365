import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from './k8s-types.ts';
import { defaultPullPolicy, imageTag, withPodDefaults } from './pod-defaults.ts';

test('image tags and the pull policy they imply', () => {
  assert.equal(imageTag('busybox'), 'latest');
  assert.equal(imageTag('busybox:1.36'), '1.36');
  assert.equal(imageTag('localhost:5000/app'), 'latest');
  assert.equal(imageTag('localhost:5000/app:v2'), 'v2');
  assert.equal(imageTag('app@sha256:abcd'), '');
  assert.equal(imageTag('app:v1@sha256:abcd'), 'v1');
  assert.equal(defaultPullPolicy('busybox'), 'Always');
  assert.equal(defaultPullPolicy('busybox:latest'), 'Always');
  assert.equal(defaultPullPolicy('busybox:1.36'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('busybox@sha256:abcd'), 'IfNotPresent');
});

test('pod, container, port, resource and probe defaults', () => {
  const pod: Pod = {
    metadata: { name: 'p' },
    spec: {
      hostNetwork: true,
      containers: [
        {
          name: 'c',
          image: 'web:1',
          ports: [{ containerPort: 8080 }],
          resources: { limits: { cpu: '1' }, requests: { memory: '1Mi' } },
          readinessProbe: { httpGet: { port: 8080 } },
        },
      ],
    },
  };
  const d = withPodDefaults(pod);
  assert.equal(d.metadata.namespace, 'default');
  assert.equal(d.spec.restartPolicy, 'Always');
  assert.equal(d.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(d.spec.terminationGracePeriodSeconds, 30);
  const c = d.spec.containers[0]!;
  assert.equal(c.imagePullPolicy, 'IfNotPresent');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.deepEqual(c.ports, [{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }]);
  assert.deepEqual(c.resources, { limits: { cpu: '1' }, requests: { cpu: '1', memory: '1Mi' } });
  assert.deepEqual(c.readinessProbe, {
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
    httpGet: { path: '/', scheme: 'HTTP', port: 8080 },
  });
  assert.equal(pod.spec.restartPolicy, undefined, 'the input is not modified');
});
