import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { Container, Pod } from './k8s-types.ts';
import { isResourceField, limitsWithAllocatable, resourceFieldValue } from './resource-field.ts';

const allocatable = { cpu: '2', memory: '4Gi', 'ephemeral-storage': '100Gi' };

const app: Container = {
  name: 'app',
  resources: { requests: { cpu: '250m', memory: '64Mi', 'hugepages-2Mi': '4Mi' }, limits: { cpu: '1500m', memory: '128Mi' } },
};
const sidecar: Container = { name: 'sidecar', resources: { limits: { cpu: 0 } } };
const init: Container = { name: 'setup', resources: { requests: { cpu: '100m' } } };
const pod: Pod = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec: { containers: [app, sidecar], initContainers: [init] } };

function value(resource: string, divisor?: string, containerName?: string, container: Container | undefined = app): string {
  return resourceFieldValue({ resource, divisor, containerName }, pod, container, allocatable);
}

test('CPU is counted in whole divisor units, rounded up', () => {
  assert.equal(value('requests.cpu'), '1');
  assert.equal(value('requests.cpu', '1m'), '250');
  assert.equal(value('limits.cpu'), '2');
  assert.equal(value('limits.cpu', '1m'), '1500');
  assert.equal(value('limits.cpu', '0'), '2', 'a zero divisor means 1');
});

test('memory, ephemeral storage and hugepages are bytes divided by the divisor, rounded up', () => {
  assert.equal(value('requests.memory'), String(64 * 2 ** 20));
  assert.equal(value('limits.memory', '1Mi'), '128');
  assert.equal(value('limits.memory', '1M'), '135', '134.2 MB rounds up');
  assert.equal(value('requests.hugepages-2Mi', '1Mi'), '4');
  assert.equal(value('limits.hugepages-2Mi'), '0', 'hugepages limits never default to the node');
  assert.equal(value('requests.ephemeral-storage'), '0');
});

test('a missing or zero limit is the node allocatable; a missing request is zero', () => {
  assert.equal(value('limits.ephemeral-storage', '1Gi'), '100');
  assert.equal(value('limits.cpu', undefined, 'sidecar'), '2');
  assert.equal(value('limits.memory', '1Mi', 'sidecar'), '4096');
  assert.equal(value('requests.memory', undefined, 'sidecar'), '0');
  assert.deepEqual(limitsWithAllocatable(sidecar, { cpu: '3' }), { cpu: '3' });
});

test('containerName names another container, init containers included', () => {
  assert.equal(value('requests.cpu', '1m', 'setup'), '100');
  assert.equal(resourceFieldValue({ resource: 'requests.cpu', divisor: '1m', containerName: 'app' }, pod, undefined, allocatable), '250');
});

test('unknown resources and containers are errors', () => {
  assert.throws(
    () => value('limits.nvidia.com/gpu'),
    (e) => isBerthError(e, 'invalid-argument') && e.message === 'unsupported container resource : limits.nvidia.com/gpu',
  );
  assert.throws(() => value('requests.cpu', undefined, 'nope'), /container nope not found/);
  assert.throws(() => resourceFieldValue({ resource: 'requests.cpu' }, pod, undefined, allocatable), /containerName is required/);
  assert.equal(isResourceField('requests.hugepages-1Gi'), true);
  assert.equal(isResourceField('requests.pods'), false);
});
