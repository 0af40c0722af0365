import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container } from '../k8s-types.ts';
import { envProblems, resourceFieldProblems } from './env-validation.ts';
import { parseStaticPodManifest } from './static-pod-manifest.ts';

const check = (container: Partial<Container>) => envProblems('spec.containers[0]', { name: 'c', ...container });

test('a complete env and envFrom passes', () => {
  assert.deepEqual(
    check({
      envFrom: [{ configMapRef: { name: 'settings' } }, { prefix: 'DB_', secretRef: { name: 'creds', optional: true } }],
      env: [
        { name: 'A', value: 'x' },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode.conf' } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 'creds', key: 'pw', optional: true } } },
        { name: 'D', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'E', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'F', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
        { name: 'G', valueFrom: { resourceFieldRef: { resource: 'requests.hugepages-2Mi', divisor: '1Ki' } } },
      ],
    }),
    [],
  );
});

test('valueFrom needs exactly one source and no value', () => {
  assert.deepEqual(check({ env: [{ name: 'A', valueFrom: {} }] }), [
    'spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
  ]);
  assert.deepEqual(check({ env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }), [
    'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
  ]);
  assert.deepEqual(
    check({
      env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' }, configMapKeyRef: { name: 'c', key: 'k' } } }],
    }),
    ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time'],
  );
});

test('key selectors need a valid name and key', () => {
  const problems = check({
    env: [
      { name: 'A', valueFrom: { configMapKeyRef: { name: 'Bad', key: '' } } },
      { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'a/b' } } },
    ],
  });
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(
    problems[0]!,
    /^spec\.containers\[0\]\.env\[0\]\.valueFrom\.configMapKeyRef\.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain/,
  );
  assert.equal(problems[1], 'spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value');
  assert.match(problems[2]!, /^spec\.containers\[0\]\.env\[1\]\.valueFrom\.secretKeyRef\.key: Invalid value: "a\/b": a valid config key/);
});

test('fieldRef and resourceFieldRef accept what the API server accepts', () => {
  const problems = check({
    env: [
      { name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } },
      { name: 'B', valueFrom: { fieldRef: { fieldPath: "spec.nodeName['x']" } } },
      { name: 'C', valueFrom: { resourceFieldRef: { resource: 'limits.pods' } } },
      { name: 'D', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '2' } } },
      { name: 'E', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '3Mi' } } },
      { name: 'F', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1000m' } } },
    ],
  });
  assert.equal(problems.length, 5, problems.join('\n'));
  assert.match(
    problems[0]!,
    /^spec\.containers\[0\]\.env\[0\]\.valueFrom\.fieldRef\.fieldPath: Unsupported value: "spec\.hostname": supported values: "metadata\.name"/,
  );
  assert.match(problems[1]!, /fieldRef: Invalid value: "spec\.nodeName": does not support subscript$/);
  assert.match(problems[2]!, /resourceFieldRef\.resource: Unsupported value: "limits\.pods"/);
  assert.equal(
    problems[3],
    `spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor: Invalid value: "requests.cpu": only divisor's values 1m and 1 are supported with the cpu resource`,
  );
  assert.match(
    problems[4]!,
    /env\[4\].*divisor: Invalid value: "limits\.memory": only divisor's values 1, 1k, .* are supported with the memory resource$/,
  );
  assert.deepEqual(resourceFieldProblems('items[0].resourceFieldRef', { resource: 'limits.cpu' }, true), [
    'items[0].resourceFieldRef.containerName: Required value',
  ]);
});

test('envFrom needs exactly one named source and a valid prefix', () => {
  const problems = check({
    envFrom: [{ prefix: '1X' }, { configMapRef: { name: 'a' }, secretRef: { name: 'b' } }, { secretRef: {} }],
  });
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0]!, /^spec\.containers\[0\]\.envFrom\[0\]\.prefix: Invalid value: "1X": a valid environment variable name/);
  assert.equal(problems[1], 'spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`');
  assert.equal(problems[2], 'spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time');
  assert.equal(problems[3], 'spec.containers[0].envFrom[2].secretRef.name: Required value');
});

test('a static pod manifest is type-checked and validated for envFrom', () => {
  const manifest = (envFrom: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    envFrom: ${envFrom}\n`;
  assert.ok(parseStaticPodManifest(manifest('[{configMapRef: {name: settings}}]'), { path: '/m/web.yaml', nodeName: 'n' }).ok);
  const typed = parseStaticPodManifest(manifest('[{configMapRef: {name: 1}}]'), { path: '/m/web.yaml', nodeName: 'n' });
  assert.deepEqual(typed.ok ? [] : typed.errors, ['spec.containers[0].envFrom[0].configMapRef.name: Invalid value: 1: must be a string']);
  const unknown = parseStaticPodManifest(manifest('[{configMapRef: {name: s, extra: 1}}]'), { path: '/m/web.yaml', nodeName: 'n' });
  assert.deepEqual(unknown.warnings, ['unknown field "spec.containers[0].envFrom[0].configMapRef.extra"']);
  const invalid = parseStaticPodManifest(manifest('[{}]'), { path: '/m/web.yaml', nodeName: 'n' });
  assert.deepEqual(invalid.ok ? [] : invalid.errors, [
    'spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`',
  ]);
});
