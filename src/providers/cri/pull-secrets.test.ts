import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Secret } from '../../agent/k8s-types.ts';
import { pullCredentials } from './pull-secrets.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dockerConfigJson = (auths: Record<string, unknown>): Secret => ({
  metadata: { name: 's' },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
});

test('a dockerconfigjson secret gives the credentials of the image registry, user and password from auth', () => {
  const secret = dockerConfigJson({ '127.0.0.1:5000': { auth: b64('alice:s3cret') }, 'other.example': { username: 'bob', password: 'x' } });
  assert.deepEqual(pullCredentials('127.0.0.1:5000/library/busybox:1', [secret]), [
    { username: 'alice', password: 's3cret', serverAddress: '127.0.0.1:5000', auth: b64('alice:s3cret') },
  ]);
  assert.deepEqual(pullCredentials('127.0.0.1:5001/library/busybox:1', [secret]), [], 'another port');
  assert.deepEqual(pullCredentials('busybox', [secret]), []);
});

test("Docker Hub's names all mean docker.io; paths narrow; wildcards match one label; most specific first", () => {
  const secret = dockerConfigJson({
    'https://index.docker.io/v1/': { username: 'hub', password: '1' },
    'docker.io/team': { username: 'team', password: '2' },
    '*.example.com': { username: 'wild', password: '3' },
  });
  assert.deepEqual(
    pullCredentials('team/app:1', [secret]).map((a) => a.username),
    ['team', 'hub'],
  );
  assert.deepEqual(
    pullCredentials('busybox:1.36', [secret]).map((a) => a.username),
    ['hub'],
  );
  assert.deepEqual(
    pullCredentials('registry.example.com/app', [secret]).map((a) => a.username),
    ['wild'],
  );
  assert.deepEqual(pullCredentials('a.b.example.com/app', [secret]), []);
});

test('dockercfg secrets, other types and bad data', () => {
  const cfg: Secret = {
    metadata: { name: 'c' },
    type: 'kubernetes.io/dockercfg',
    data: { '.dockercfg': b64(JSON.stringify({ 'quay.io': { username: 'q', password: 'p' } })) },
  };
  assert.deepEqual(
    pullCredentials('quay.io/org/app:1', [cfg]).map((a) => a.username),
    ['q'],
  );
  assert.deepEqual(pullCredentials('quay.io/org/app:1', [{ metadata: { name: 'o' }, type: 'Opaque', data: { x: b64('{}') } }]), []);
  assert.deepEqual(
    pullCredentials('quay.io/org/app:1', [
      { metadata: { name: 'b' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('not json') } },
    ]),
    [],
  );
});
