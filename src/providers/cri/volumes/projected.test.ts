import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigMap, Pod, ProjectedVolumeSource, Secret } from '../../../agent/k8s-types.ts';
import type { ServiceAccountTokenRequest, ServiceAccountTokenSource } from '../../../agent/provider.ts';
import type { FileProjection } from './atomic-writer.ts';
import { NO_TOKEN_SOURCE, type ProjectionSources, projectedFiles } from './projected.ts';

const signal = new AbortController().signal;

function pod(fsGroup?: number): Pod {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'u1', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'i' }], ...(fsGroup !== undefined ? { securityContext: { fsGroup } } : {}) },
  };
}

function sources(): ProjectionSources & { tokenRequests: ServiceAccountTokenRequest[] } {
  const configMaps: Record<string, ConfigMap> = {
    'kube-root-ca.crt': { metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': 'CERT', other: 'x' } },
  };
  const secrets: Record<string, Secret> = {
    creds: { metadata: { name: 'creds' }, data: { user: Buffer.from('admin').toString('base64') } },
  };
  const tokenRequests: ServiceAccountTokenRequest[] = [];
  const tokens: ServiceAccountTokenSource = {
    async getToken(_pod, request) {
      tokenRequests.push(request);
      return `jwt-${tokenRequests.length}`;
    },
    forgetPod() {},
  };
  return {
    tokenRequests,
    configMaps: { getConfigMap: async (_ns, name) => configMaps[name] },
    secrets: { getSecret: async (_ns, name) => secrets[name] },
    tokens,
    resourceValue: () => '1',
  };
}

const text = (files: Map<string, FileProjection>) =>
  Object.fromEntries([...files].map(([p, f]) => [p, [Buffer.from(f.data).toString('utf8'), f.mode.toString(8)]]));

const KUBE_API_ACCESS: ProjectedVolumeSource = {
  defaultMode: 0o644,
  sources: [
    { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
    { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
  ],
};

test("the API server's kube-api-access volume: token, ca.crt and namespace", async () => {
  const s = sources();
  assert.deepEqual(text(await projectedFiles(pod(), KUBE_API_ACCESS, s, signal)), {
    token: ['jwt-1', '644'],
    'ca.crt': ['CERT', '644'],
    namespace: ['shop', '644'],
  });
  assert.deepEqual(s.tokenRequests, [{ expirationSeconds: 3607 }]);
});

test('defaultMode for every source, item modes win; the token is 0600 with an fsGroup; an audience is passed on', async () => {
  const s = sources();
  const files = await projectedFiles(
    pod(1000),
    {
      defaultMode: 0o440,
      sources: [
        { secret: { name: 'creds', items: [{ key: 'user', path: 'db/user', mode: 0o400 }] } },
        { configMap: { name: 'kube-root-ca.crt' } },
        { serviceAccountToken: { audience: 'vault', path: 'vault-token' } },
      ],
    },
    s,
    signal,
  );
  assert.deepEqual(text(files), {
    'db/user': ['admin', '400'],
    'ca.crt': ['CERT', '440'],
    other: ['x', '440'],
    'vault-token': ['jwt-1', '600'],
  });
  assert.deepEqual(s.tokenRequests, [{ audience: 'vault', expirationSeconds: 3600 }]);
});

test('optional sources that are missing are skipped; every failure is reported together', async () => {
  const files = await projectedFiles(
    pod(),
    { sources: [{ configMap: { name: 'absent', optional: true } }, { secret: { name: 'gone', optional: true } }] },
    sources(),
    signal,
  );
  assert.equal(files.size, 0);
  await assert.rejects(
    projectedFiles(
      pod(),
      {
        sources: [
          { configMap: { name: 'absent' } },
          { secret: { name: 'creds', items: [{ key: 'password', path: 'p' }] } },
          { configMap: { name: 'kube-root-ca.crt' } },
        ],
      },
      sources(),
      signal,
    ),
    { message: '[configmap "absent" not found, references non-existent secret key: password]' },
  );
});

test('two sources writing one path conflict', async () => {
  await assert.rejects(
    projectedFiles(
      pod(),
      {
        sources: [
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'token' }] } },
          { serviceAccountToken: { path: 'token' } },
        ],
      },
      sources(),
      signal,
    ),
    { message: 'conflicting duplicate paths: token' },
  );
});

test('standalone mode: a serviceAccountToken source fails clearly, the other sources still work', async () => {
  const s = { ...sources(), tokens: undefined };
  await assert.rejects(projectedFiles(pod(), KUBE_API_ACCESS, s, signal), { message: `failed to fetch token: ${NO_TOKEN_SOURCE}` });
  const rest = { sources: KUBE_API_ACCESS.sources!.slice(1) };
  assert.deepEqual(Object.keys(text(await projectedFiles(pod(), rest, s, signal))), ['ca.crt', 'namespace']);
});
