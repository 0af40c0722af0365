import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResourceRequirements } from './k8s-types.ts';
import { podQosClass } from './pod-qos.ts';

const spec = (...resources: ResourceRequirements[]) => ({ containers: resources.map((r, i) => ({ name: `c${i}`, resources: r })) });

test('BestEffort without requests or limits', () => {
  assert.equal(podQosClass(spec({}, {})), 'BestEffort');
});

test('Guaranteed when every container has equal cpu and memory requests and limits', () => {
  const r = { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '0.5', memory: '64Mi' } };
  assert.equal(podQosClass(spec(r, r)), 'Guaranteed');
});

test('Burstable otherwise', () => {
  assert.equal(podQosClass(spec({ requests: { cpu: '100m' } })), 'Burstable');
  assert.equal(podQosClass(spec({ requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } })), 'Burstable');
  assert.equal(podQosClass(spec({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }, {})), 'Burstable');
});
