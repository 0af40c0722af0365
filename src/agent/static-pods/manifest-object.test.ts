import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigMap, Secret } from '../k8s-types.ts';
import { MAX_OBJECT_BYTES, type ObjectResult, objectFromManifest } from './manifest-object.ts';
import type { ShapeIssues } from './shape-check.ts';

function parse(object: Record<string, unknown>): ObjectResult {
  const issues: ShapeIssues = { errors: [], warnings: [] };
  return objectFromManifest(object, issues);
}

function errors(result: ObjectResult): string[] {
  assert.equal(result.ok, false, 'expected the object to be refused');
  return result.ok ? [] : result.errors;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('a ConfigMap gets the default namespace and keeps data and binaryData', () => {
  const result = parse({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings' },
    data: { MODE: 'fast', 'app.conf': 'a=1\n' },
    binaryData: { blob: b64('\x00\x01') },
  });
  assert.ok(result.ok);
  const configMap = result.object as ConfigMap;
  assert.equal(configMap.metadata.namespace, 'default');
  assert.deepEqual(configMap.data, { MODE: 'fast', 'app.conf': 'a=1\n' });
  assert.deepEqual(configMap.binaryData, { blob: 'AAE=' });
});

test('a Secret gets type Opaque and its stringData merged into data as base64 (stringData wins)', () => {
  const result = parse({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'creds', namespace: 'prod' },
    data: { user: b64('admin'), password: b64('old') },
    stringData: { password: 'n3w' },
  });
  assert.ok(result.ok);
  const secret = result.object as Secret & { stringData?: unknown };
  assert.equal(secret.type, 'Opaque');
  assert.equal(secret.metadata.namespace, 'prod');
  assert.deepEqual(secret.data, { user: b64('admin'), password: b64('n3w') });
  assert.equal(secret.stringData, undefined);
});

test('names, namespaces and keys are checked as the API server checks them', () => {
  const problems = errors(
    parse({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'Bad_Name', namespace: 'a.b' },
      data: { 'bad key': 'x', '..hidden': 'y', both: '1' },
      binaryData: { both: b64('2') },
    }),
  );
  assert.equal(problems.length, 5, problems.join('\n'));
  assert.match(problems[0]!, /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  assert.match(problems[1]!, /^metadata\.namespace: Invalid value: "a\.b": a lowercase RFC 1123 label/);
  assert.match(problems[2]!, /^data\[bad key\]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters/);
  assert.equal(problems[3], `data[..hidden]: Invalid value: "..hidden": must not start with '..'`);
  assert.equal(problems[4], 'data[both]: Invalid value: "both": duplicate of key present in binaryData');
  assert.deepEqual(errors(parse({ apiVersion: 'v1', kind: 'Secret', metadata: {} })), [
    'metadata.name: Required value: name or generateName is required',
  ]);
});

test('bad base64 is refused without echoing the value', () => {
  const problems = errors(
    parse({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'c2Vj*mV0', b: 'abc', ok: 'c2VjcmV0' } }),
  );
  assert.deepEqual(problems, [
    'data[a]: Invalid value: "<value redacted>": illegal base64 data at input byte 4',
    'data[b]: Invalid value: "<value redacted>": illegal base64 data at input byte 0',
  ]);
  assert.deepEqual(errors(parse({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, binaryData: { x: '!!' } })), [
    'binaryData[x]: Invalid value: "<value redacted>": illegal base64 data at input byte 0',
  ]);
});

test('objects over 1 MiB are refused', () => {
  const half = 'x'.repeat(MAX_OBJECT_BYTES / 2);
  assert.ok(parse({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: half, b: half } }).ok);
  assert.deepEqual(errors(parse({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: half, b: `${half}x` } })), [
    'Too long: may not be more than 1048576 bytes',
  ]);
  assert.deepEqual(errors(parse({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: half, b: half, c: 'x' } })), [
    'data: Too long: may not be more than 1048576 bytes',
  ]);
});

test('well-known Secret types need their keys', () => {
  const secret = (type: string, data: Record<string, string> = {}) =>
    parse({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type, data });
  assert.deepEqual(errors(secret('kubernetes.io/tls', { 'tls.crt': b64('c') })), ['data[tls.key]: Required value']);
  assert.deepEqual(errors(secret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64('{') })).length, 1);
  assert.deepEqual(errors(secret('kubernetes.io/basic-auth')), ['data[username]: Required value', 'data[password]: Required value']);
  assert.ok(secret('kubernetes.io/basic-auth', { password: b64('p') }).ok);
  assert.ok(secret('example.com/custom').ok);
});

test('wrong types and apiVersion are errors, unknown fields warnings', () => {
  const issues: ShapeIssues = { errors: [], warnings: [] };
  const result = objectFromManifest({ apiVersion: 'v2', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 1 }, extra: true }, issues);
  assert.deepEqual(errors(result), ['apiVersion: Invalid value: "v2": expected "v1"', 'data[a]: Invalid value: 1: must be a string']);
  assert.deepEqual(result.warnings, ['unknown field "extra"']);
});
