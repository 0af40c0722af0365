import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { containerEnv, expandCommandAndArgs } from './container-env.ts';
import type { Container, Pod } from './k8s-types.ts';

function pod(container: Container): Pod {
  return {
    metadata: { name: 'web', namespace: 'prod', uid: 'u-1', labels: { app: 'web' }, annotations: { 'a.b/c': 'd' } },
    spec: { nodeName: 'node-a', containers: [container] },
  };
}

test('values expand over the variables defined before them', () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'LATER', value: '$(FIRST)-late' },
      { name: 'FIRST', value: 'one' },
      { name: 'SECOND', value: '$(FIRST)-two' },
      { name: 'ESCAPED', value: '$$(FIRST)' },
      { name: 'UNKNOWN', value: '$(NOPE)' },
    ],
  };
  assert.deepEqual(containerEnv(pod(c), c), [
    { name: 'LATER', value: '$(FIRST)-late' },
    { name: 'FIRST', value: 'one' },
    { name: 'SECOND', value: 'one-two' },
    { name: 'ESCAPED', value: '$(FIRST)' },
    { name: 'UNKNOWN', value: '$(NOPE)' },
  ]);
});

test('a later duplicate replaces the value and keeps the position', () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'A', value: '$(A)$(B)' },
    ],
  };
  assert.deepEqual(containerEnv(pod(c), c), [
    { name: 'A', value: '12' },
    { name: 'B', value: '2' },
  ]);
});

test('fieldRef reads the downward API', () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'ANN', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['a.b/c']" } } },
      { name: 'GREETING', value: 'hi $(POD) on $(NODE)' },
    ],
  };
  const env = Object.fromEntries(containerEnv(pod(c), c, { podIPs: ['10.99.0.5'], hostIPs: ['192.0.2.1'] }).map((e) => [e.name, e.value]));
  assert.deepEqual(env, {
    POD: 'web',
    NS: 'prod',
    UID: 'u-1',
    NODE: 'node-a',
    IP: '10.99.0.5',
    HOST: '192.0.2.1',
    APP: 'web',
    ANN: 'd',
    GREETING: 'hi web on node-a',
  });
});

test('sources that need the API server are refused with a clear error', () => {
  const c: Container = { name: 'c', env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] };
  assert.throws(
    () => containerEnv(pod(c), c),
    (e: unknown) => isBerthError(e, 'invalid-argument') && /secretKeyRef/.test(e.message),
  );
});

test('command and args expand over the whole environment', () => {
  const c: Container = { name: 'c', command: ['sh', '-c', 'echo $(MSG) $$(MSG)'], args: ['$(MSG)', '$(NONE)'] };
  assert.deepEqual(expandCommandAndArgs(c, [{ name: 'MSG', value: 'hello' }]), {
    command: ['sh', '-c', 'echo hello $(MSG)'],
    args: ['hello', '$(NONE)'],
  });
});
