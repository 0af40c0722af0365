import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Pod } from '../k8s-types.ts';
import { withPodDefaults } from '../pod-defaults.ts';
import { validatePod } from './pod-validation.ts';

const podWith = (containers: Container[], extra: Partial<Pod['spec']> = {}): Pod =>
  withPodDefaults({ metadata: { name: 'p' }, spec: { containers, ...extra } });

test('lifecycle hooks: valid handlers pass; httpGet gets the default path and scheme', () => {
  const pod = podWith(
    [
      {
        name: 'a',
        image: 'busybox',
        ports: [{ name: 'http', containerPort: 80 }],
        lifecycle: { postStart: { exec: { command: ['true'] } }, preStop: { httpGet: { port: 'http' } } },
      },
      { name: 'b', image: 'busybox', lifecycle: { preStop: { sleep: { seconds: 30 } } } },
    ],
    { terminationGracePeriodSeconds: undefined },
  );
  assert.deepEqual(pod.spec.containers[0]!.lifecycle!.preStop!.httpGet, { path: '/', scheme: 'HTTP', port: 'http' });
  assert.deepEqual(validatePod(pod), []);
});

test('lifecycle hooks: the API server errors', () => {
  const errors = validatePod(
    podWith(
      [
        {
          name: 'a',
          image: 'busybox',
          lifecycle: {
            postStart: { exec: { command: [] } },
            preStop: { exec: { command: ['x'] }, sleep: { seconds: 1 } },
          },
        },
        { name: 'b', image: 'busybox', lifecycle: { postStart: {}, preStop: { sleep: { seconds: 11 } } } },
        { name: 'c', image: 'busybox', lifecycle: { preStop: { sleep: { seconds: 0 } } } },
        {
          name: 'd',
          image: 'busybox',
          lifecycle: { postStart: { httpGet: { port: 70000, scheme: 'FTP' as 'HTTP', httpHeaders: [{ name: 'bad header', value: '' }] } } },
        },
      ],
      {
        terminationGracePeriodSeconds: 10,
        initContainers: [{ name: 'i', image: 'busybox', lifecycle: { preStop: { sleep: { seconds: 1 } } } }],
      },
    ),
  );
  assert.deepEqual(errors, [
    'spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always',
    'spec.containers[0].lifecycle.postStart.exec.command: Required value',
    'spec.containers[0].lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type',
    'spec.containers[1].lifecycle.postStart: Required value: must specify a handler type',
    'spec.containers[1].lifecycle.preStop.sleep: Invalid value: 11: must be greater than 0 and less than terminationGracePeriodSeconds (10)',
    'spec.containers[2].lifecycle.preStop.sleep: Invalid value: 0: must be greater than 0 and less than terminationGracePeriodSeconds (10)',
    'spec.containers[3].lifecycle.postStart.httpGet.port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.containers[3].lifecycle.postStart.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
    `spec.containers[3].lifecycle.postStart.httpGet.httpHeaders: Invalid value: "bad header": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`,
  ]);
});

test('gRPC probes are accepted; their port must be valid', () => {
  const probe = (port: number) => ({ grpc: { port } });
  assert.deepEqual(validatePod(podWith([{ name: 'a', image: 'busybox', readinessProbe: probe(9000) }])), []);
  assert.deepEqual(validatePod(podWith([{ name: 'a', image: 'busybox', livenessProbe: probe(0) }])), [
    'spec.containers[0].livenessProbe.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive',
  ]);
});
