import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../../../agent/k8s-types.ts';
import { resourceFieldValue } from '../../../agent/resource-field.ts';
import { configMapFiles, downwardApiFiles, formatMap, goQuote, secretFiles } from './volume-payloads.ts';

const text = (files: Map<string, { data: Uint8Array; mode: number }>) =>
  Object.fromEntries([...files].map(([p, f]) => [p, [Buffer.from(f.data).toString('utf8'), f.mode.toString(8)]]));

test('Go quoting as in the labels and annotations files', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.equal(goQuote('a\nb\tc\u0007\u0001'), '"a\\nb\\tc\\a\\x01"');
  assert.equal(goQuote('héllo ✓'), '"héllo ✓"');
  assert.equal(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"');
});

test('labels and annotations as sorted key="value" lines without a final newline', () => {
  assert.equal(
    formatMap({ zone: 'b', app: 'web', 'app.kubernetes.io/name': 'x "y"' }),
    'app="web"\napp.kubernetes.io/name="x \\"y\\""\nzone="b"',
  );
  assert.equal(formatMap(undefined), '');
});

const pod: Pod = {
  metadata: { name: 'web', namespace: 'prod', uid: 'u-1', labels: { b: '2', a: '1' }, annotations: { note: 'line2\nline1' } },
  spec: { containers: [{ name: 'app', resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } } }] },
};

test('downwardAPI files: fields, whole maps, resources, modes', () => {
  const files = downwardApiFiles(
    {
      defaultMode: 0o600,
      items: [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'meta/name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o444 },
        { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
        { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
        { path: 'a', fieldRef: { fieldPath: "metadata.labels['a']" } },
        { path: 'note', fieldRef: { fieldPath: "metadata.annotations['note']" } },
        { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
        { path: 'cpu', resourceFieldRef: { containerName: 'app', resource: 'requests.cpu', divisor: '1m' } },
      ],
    },
    pod,
    (selector) => resourceFieldValue(selector, pod, undefined, { cpu: '2', memory: '1Gi' }),
  );
  assert.deepEqual(text(files), {
    labels: ['a="1"\nb="2"', '600'],
    'meta/name': ['web', '444'],
    ns: ['prod', '600'],
    uid: ['u-1', '600'],
    a: ['1', '600'],
    note: ['line1\nline2', '600'],
    mem: ['64', '600'],
    cpu: ['250', '600'],
  });
  assert.throws(() => downwardApiFiles({ items: [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }] }, pod, () => ''), {
    message: 'unsupported fieldPath: status.podIP',
  });
});

test('configMap files: every key, or the items with their paths and modes; a missing key fails unless optional', () => {
  const cm = {
    metadata: { name: 'cm' },
    data: { 'app.conf': 'x=1', other: 'y' },
    binaryData: { blob: Buffer.from([0, 1]).toString('base64') },
  };
  assert.deepEqual(text(configMapFiles({}, cm)), { 'app.conf': ['x=1', '644'], other: ['y', '644'], blob: ['\u0000\u0001', '644'] });
  assert.deepEqual(
    text(
      configMapFiles(
        {
          defaultMode: 0o640,
          items: [
            { key: 'app.conf', path: 'conf/app.conf' },
            { key: 'other', path: 'o', mode: 0o400 },
          ],
        },
        cm,
      ),
    ),
    { 'conf/app.conf': ['x=1', '640'], o: ['y', '400'] },
  );
  assert.throws(() => configMapFiles({ items: [{ key: 'nope', path: 'n' }] }, cm), {
    message: 'configmap references non-existent config key: nope',
  });
  assert.deepEqual(text(configMapFiles({ optional: true, items: [{ key: 'nope', path: 'n' }] }, cm)), {});
  assert.deepEqual(text(configMapFiles({ optional: true }, undefined)), {});
});

test('secret files are decoded from base64', () => {
  const secret = { metadata: { name: 's' }, data: { password: Buffer.from('s3cret').toString('base64') } };
  assert.deepEqual(text(secretFiles({ defaultMode: 0o400 }, secret)), { password: ['s3cret', '400'] });
  assert.throws(() => secretFiles({ items: [{ key: 'user', path: 'u' }] }, secret), {
    message: 'references non-existent secret key: user',
  });
});
