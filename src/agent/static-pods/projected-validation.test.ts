// Static pods' projected volumes are checked as the API server checks them (validateProjectionSources).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodSpec, Volume } from '../k8s-types.ts';
import { parseStaticPodManifest } from './static-pod-manifest.ts';
import { validateVolumes } from './volume-validation.ts';

const withVolume = (projected: Volume['projected']): PodSpec => ({
  containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
  volumes: [{ name: 'p', projected }],
});

test('the kube-api-access volume the API server adds passes', () => {
  const problems = validateVolumes(
    withVolume({
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    }),
  );
  assert.deepEqual(problems, []);
});

test('sources: one kind each, paths relative without .. and unique, names, modes and token lifetimes checked', () => {
  const problems = validateVolumes(
    withVolume({
      defaultMode: 0o1000,
      sources: [
        { configMap: { name: 'a', items: [{ key: 'k', path: 'same' }] }, secret: { name: 's' } },
        { secret: { name: '', items: [{ key: 'k', path: 'same' }] } },
        { downwardAPI: { items: [{ path: '../up', fieldRef: { fieldPath: 'metadata.name' } }] } },
        { serviceAccountToken: { path: '/abs', expirationSeconds: 599 } },
        { serviceAccountToken: { path: 'same' } },
        {},
        { clusterTrustBundle: { name: 'x', path: 'b' } },
      ],
    }),
  );
  assert.deepEqual(problems, [
    'spec.volumes[0].projected.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
    'spec.volumes[0].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source',
    'spec.volumes[0].projected.sources[1].secret.name: Required value',
    'spec.volumes[0].projected: Invalid value: "": conflicting duplicate paths',
    `spec.volumes[0].projected.sources[2].downwardAPI.items[0].path: Invalid value: "../up": must not contain '..'`,
    `spec.volumes[0].projected.sources[2].downwardAPI.items[0].path: Invalid value: "../up": must not start with '..'`,
    'spec.volumes[0].projected.sources[3].serviceAccountToken.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes',
    'spec.volumes[0].projected.sources[3].serviceAccountToken.path: Invalid value: "/abs": must be a relative path',
    'spec.volumes[0].projected: Invalid value: "same": conflicting duplicate paths',
    'spec.volumes[0].projected.sources[5]: Required value: must specify one of `secret`, `configMap`, `downwardAPI`, `serviceAccountToken`',
    'spec.volumes[0].projected.sources[6].clusterTrustBundle: Forbidden: clusterTrustBundle projections are not supported by berth node',
  ]);
});

test('a manifest with a projected volume is type-checked and accepted', () => {
  const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: proj}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: p, mountPath: /p}]}]
  volumes:
  - name: p
    projected:
      defaultMode: 0440
      sources:
      - serviceAccountToken: {path: token, audience: vault}
      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
`;
  const ok = parseStaticPodManifest(manifest, { path: '/m/proj.yaml', nodeName: 'n' });
  if (!ok.ok) assert.fail(ok.errors.join('; '));
  assert.equal(ok.pod.spec.volumes?.[0]?.projected?.sources?.[0]?.serviceAccountToken?.audience, 'vault');
  const bad = parseStaticPodManifest(manifest.replace('path: token', 'path: 7').replace('audience: vault', 'audiences: [vault]'), {
    path: '/m/proj.yaml',
    nodeName: 'n',
  });
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    'spec.volumes[0].projected.sources[0].serviceAccountToken.path: Invalid value: 7: must be a string',
  ]);
  assert.deepEqual(bad.warnings, ['unknown field "spec.volumes[0].projected.sources[0].serviceAccountToken.audiences"']);
});
