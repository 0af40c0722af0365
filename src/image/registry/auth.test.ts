import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { credentialsFor, parseChallenges } from './auth.ts';

test('parses WWW-Authenticate challenges', () => {
  assert.deepEqual(
    parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'),
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
      },
    ],
  );
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges(['Basic realm="a"', 'Bearer realm="http://x/t", error="insufficient_scope"']), [
    { scheme: 'basic', params: { realm: 'a' } },
    { scheme: 'bearer', params: { realm: 'http://x/t', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="a\\"b", charset=UTF-8, Bearer realm=x'), [
    { scheme: 'basic', params: { realm: 'a"b', charset: 'UTF-8' } },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
  assert.equal(parseChallenges('Negotiate abc==')[0]?.scheme, 'negotiate');
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});

test('credentials from a CRI AuthConfig', () => {
  assert.deepEqual(credentialsFor(undefined, 'docker.io'), { kind: 'anonymous' });
  assert.deepEqual(credentialsFor({}, 'docker.io'), { kind: 'anonymous' });
  assert.deepEqual(credentialsFor({ username: 'u', password: 'p' }, 'docker.io'), { kind: 'basic', username: 'u', password: 'p' });
  assert.deepEqual(credentialsFor({ auth: Buffer.from('u:p:q').toString('base64') }, 'x.io'), {
    kind: 'basic',
    username: 'u',
    password: 'p:q',
  });
  assert.deepEqual(credentialsFor({ identityToken: 'rt' }, 'x.io'), { kind: 'identity-token', token: 'rt' });
  assert.deepEqual(credentialsFor({ registryToken: 'bt', username: 'u' }, 'x.io'), { kind: 'registry-token', token: 'bt' });
  assert.deepEqual(credentialsFor({ username: 'u', password: 'p', identityToken: 'rt' }, 'x.io').kind, 'basic');
  assert.throws(
    () => credentialsFor({ auth: Buffer.from('nocolon').toString('base64') }, 'x.io'),
    (e: unknown) => isBerthError(e, 'invalid-argument') && e.code === 'bad-auth-config',
  );
});

test('serverAddress limits where credentials go', () => {
  const c = { username: 'u', password: 'p', serverAddress: 'https://index.docker.io/v1/' };
  assert.equal(credentialsFor(c, 'docker.io', 'registry-1.docker.io').kind, 'basic');
  assert.equal(credentialsFor(c, 'quay.io', 'quay.io').kind, 'anonymous');
  const m = { username: 'u', password: 'p', serverAddress: '127.0.0.1:5000' };
  assert.equal(credentialsFor(m, 'registry.k8s.io', '127.0.0.1:5000').kind, 'basic');
  assert.equal(credentialsFor(m, 'registry.k8s.io', 'registry.k8s.io').kind, 'anonymous');
});
