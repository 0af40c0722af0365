import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { endpointOrigin, endpointUrl, resolveHosts } from './hosts.ts';

test('a host alone is HTTPS; Docker Hub is registry-1.docker.io', () => {
  assert.deepEqual(resolveHosts('docker.io'), [{ apiRoot: 'https://registry-1.docker.io/v2', namespace: 'docker.io', mirror: false }]);
  assert.deepEqual(resolveHosts('localhost:5000'), [{ apiRoot: 'https://localhost:5000/v2', namespace: 'localhost:5000', mirror: false }]);
  assert.deepEqual(resolveHosts('[::1]:5000', { '[::1]:5000': { insecure: true } }), [
    { apiRoot: 'http://[::1]:5000/v2', namespace: '[::1]:5000', mirror: false },
  ]);
});

test('mirrors come first, in order, each with its own scheme', () => {
  const eps = resolveHosts('registry.k8s.io', {
    'registry.k8s.io': { mirrors: ['http://127.0.0.1:5000', 'https://mirror.example/'] },
    'docker.io': { mirrors: ['http://other'] },
  });
  assert.deepEqual(
    eps.map((e) => [e.apiRoot, e.mirror]),
    [
      ['http://127.0.0.1:5000/v2', true],
      ['https://mirror.example/v2', true],
      ['https://registry.k8s.io/v2', false],
    ],
  );
  assert.equal(endpointOrigin(eps[0]!), 'http://127.0.0.1:5000');
});

test('mirror paths keep the repository path and add ns', () => {
  const [mirror, host] = resolveHosts('registry.k8s.io', { 'registry.k8s.io': { mirrors: ['http://127.0.0.1:5000'] } });
  assert.equal(endpointUrl(mirror!, 'pause', 'manifests', '3.9').href, 'http://127.0.0.1:5000/v2/pause/manifests/3.9?ns=registry.k8s.io');
  assert.equal(endpointUrl(host!, 'pause', 'manifests', '3.9').href, 'https://registry.k8s.io/v2/pause/manifests/3.9');
  const d = `sha256:${'a'.repeat(64)}`;
  assert.equal(endpointUrl(host!, 'a/b', 'blobs', d).href, `https://registry.k8s.io/v2/a/b/blobs/${d}`);
  const [prefixed] = resolveHosts('docker.io', { 'docker.io': { mirrors: ['https://m.example/prefix/'] } });
  assert.equal(
    endpointUrl(prefixed!, 'library/busybox', 'manifests', 'latest').href,
    'https://m.example/prefix/v2/library/busybox/manifests/latest?ns=docker.io',
  );
  const [v2] = resolveHosts('docker.io', { 'docker.io': { mirrors: ['https://m.example/v2'] } });
  assert.equal(v2!.apiRoot, 'https://m.example/v2');
});

test('Docker Hub config may be keyed by its aliases', () => {
  const eps = resolveHosts('docker.io', { 'index.docker.io': { mirrors: ['http://127.0.0.1:1'] } });
  assert.equal(eps.length, 2);
});

test('bad mirrors are invalid-argument', () => {
  for (const m of ['127.0.0.1:5000', 'ftp://x', 'http://u:p@x', 'http://x/?a=b', 'not a url']) {
    assert.throws(
      () => resolveHosts('docker.io', { 'docker.io': { mirrors: [m] } }),
      (e: unknown) => isBerthError(e, 'invalid-argument') && e.code === 'bad-mirror',
      m,
    );
  }
});
