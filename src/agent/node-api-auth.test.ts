import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import {
  ANONYMOUS_USER,
  anonymousAuthenticator,
  isReadOnlyPath,
  requestAttributes,
  unionAuthenticator,
  x509Authenticator,
} from './node-api-auth.ts';

const admin = { name: 'admin', groups: ['system:masters'] };

test('request attributes as the kubelet builds them: verb by method, subresource by path', () => {
  const attrs = (method: string, path: string) => {
    const a = requestAttributes(admin, method, path, 'n1');
    return [a.verb, a.resource, a.subresource, a.name];
  };
  assert.deepEqual(attrs('GET', '/stats/summary'), ['get', 'nodes', 'stats', 'n1']);
  assert.deepEqual(attrs('GET', '/metrics'), ['get', 'nodes', 'metrics', 'n1']);
  assert.deepEqual(attrs('GET', '/healthz'), ['get', 'nodes', 'healthz', 'n1']);
  assert.deepEqual(attrs('GET', '/logs/syslog'), ['get', 'nodes', 'log', 'n1']);
  assert.deepEqual(attrs('POST', '/exec/default/p/c'), ['create', 'nodes', 'proxy', 'n1']);
  assert.deepEqual(attrs('GET', '/containerLogs/default/p/c'), ['get', 'nodes', 'proxy', 'n1']);
  assert.deepEqual(attrs('GET', '/pods'), ['get', 'nodes', 'proxy', 'n1']);
  // A prefix counts only as a whole path segment.
  assert.deepEqual(attrs('GET', '/statsx'), ['get', 'nodes', 'proxy', 'n1']);
});

test('the read-only paths: pods, healthz, metrics, stats/summary and nothing else', () => {
  for (const p of ['/pods', '/pods/', '/healthz', '/metrics', '/stats/summary']) assert.ok(isReadOnlyPath(p), p);
  for (const p of ['/run/a/b/c', '/exec/a/b/c', '/attach/a/b/c', '/portForward/a/b', '/containerLogs/a/b/c', '/events', '/stats', '/podsx'])
    assert.ok(!isReadOnlyPath(p), p);
});

test('authenticators in order: no certificate falls through to anonymous only when it is there', async () => {
  const plain = { socket: {} } as IncomingMessage;
  assert.equal(await x509Authenticator.authenticate(plain), undefined);
  assert.equal(await unionAuthenticator(x509Authenticator).authenticate(plain), undefined);
  assert.deepEqual(await unionAuthenticator(x509Authenticator, anonymousAuthenticator).authenticate(plain), ANONYMOUS_USER);
  const unverified = {
    socket: { authorized: false, getPeerCertificate: () => ({ subject: { CN: 'admin' } }) },
  } as unknown as IncomingMessage;
  assert.equal(await x509Authenticator.authenticate(unverified), undefined);
  const verified = {
    socket: { authorized: true, getPeerCertificate: () => ({ subject: { CN: 'admin', O: ['system:masters', 'ops'] } }) },
  } as unknown as IncomingMessage;
  assert.deepEqual(await x509Authenticator.authenticate(verified), {
    name: 'admin',
    groups: ['system:masters', 'ops', 'system:authenticated'],
  });
});
