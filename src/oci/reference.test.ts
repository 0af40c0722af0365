import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { Digest } from './digest.ts';
import { familiarReference, isReference, isValidDomain, isValidPath, isValidTag, normalizeReference, parseReference } from './reference.ts';

const D = `sha256:${'a'.repeat(64)}` as Digest;

test('normalises familiar names', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['foo/bar', 'docker.io/foo/bar:latest'],
    ['foo/bar/baz:v1', 'docker.io/foo/bar/baz:v1'],
    ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['docker.io/library/ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
    ['index.docker.io/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['index.docker.io/foo/bar', 'docker.io/foo/bar:latest'],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    ['localhost/foo', 'localhost/foo:latest'],
    ['localhost:5000/foo/bar:tag', 'localhost:5000/foo/bar:tag'],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000/busybox:latest'],
    ['[::1]:5000/busybox', '[::1]:5000/busybox:latest'],
    ['example:5000/a', 'example:5000/a:latest'],
    ['Example.COM/a', 'Example.COM/a:latest'],
    ['quay.io/a_b/c__d/e-f/g---h.i:Tag_1.0-x', 'quay.io/a_b/c__d/e-f/g---h.i:Tag_1.0-x'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`],
    [`gcr.io/a/b:t@${D}`, `gcr.io/a/b:t@${D}`],
    ['localhost', 'docker.io/library/localhost:latest'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeReference(input), want, input);
});

test('exposes the parts', () => {
  const r = parseReference(`registry.k8s.io/pause:3.9@${D}`);
  assert.equal(r.domain, 'registry.k8s.io');
  assert.equal(r.path, 'pause');
  assert.equal(r.tag, '3.9');
  assert.equal(r.digest, D);
  assert.equal(r.name, 'registry.k8s.io/pause');
  assert.equal(r.object, D);
  assert.equal(String(r), `registry.k8s.io/pause:3.9@${D}`);
  assert.equal(r.withDigest(D).string(), `registry.k8s.io/pause@${D}`);
  assert.equal(r.withTag('x').string(), 'registry.k8s.io/pause:x');
  assert.equal(r.repository().string(), 'registry.k8s.io/pause');
  assert.throws(
    () => r.withTag(':'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  const t = parseReference('busybox');
  assert.equal(t.object, 'latest');
  assert.equal(parseReference('busybox', { defaultTag: false }).tag, undefined);
});

test('familiar forms', () => {
  assert.equal(parseReference('docker.io/library/busybox:latest').familiar(), 'busybox:latest');
  assert.equal(parseReference('foo/bar').familiar(), 'foo/bar:latest');
  assert.equal(parseReference('docker.io/library/a/b').familiar(), 'library/a/b:latest');
  assert.equal(parseReference('quay.io/x/y:1').familiar(), 'quay.io/x/y:1');
  assert.equal(familiarReference(`docker.io/library/busybox@${D}`), `busybox@${D}`);
  // A Docker Hub path whose first part looks like a host keeps docker.io/, so that it reads back.
  assert.equal(familiarReference('docker.io/r.io/app:1'), 'docker.io/r.io/app:1');
  assert.equal(normalizeReference(familiarReference('docker.io/localhost/app')), 'docker.io/localhost/app:latest');
});

test('rejects bad references with invalid-argument bad-reference naming the input', () => {
  const bad = [
    '',
    'UPPER/case',
    'busyBox',
    'a:b:c',
    ':tag',
    '@sha256:' + 'a'.repeat(64),
    'name@sha256:short',
    `name@sha256:${'A'.repeat(64)}`,
    `name@md5:${'a'.repeat(32)}`,
    'a'.repeat(64),
    'foo/',
    '/foo',
    'foo//bar',
    'foo_',
    '-foo',
    'foo..bar',
    'foo___bar',
    'foo:-tag',
    `foo:${'t'.repeat(129)}`,
    'foo bar',
    ' busybox',
    'busybox ',
    'localhost:port/foo',
    '-host.io/foo',
    `docker.io/${'a'.repeat(256)}`,
    'foo@',
    'foo:',
  ];
  for (const input of bad) {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => {
        assert.ok(isBerthError(e, 'invalid-argument'), `${input}: ${String(e)}`);
        assert.equal(e.code, 'bad-reference');
        assert.ok(e.message.includes(`"${input}"`), e.message);
        return true;
      },
      input,
    );
    assert.equal(isReference(input), false, input);
  }
});

test('length limit is on the path', () => {
  assert.ok(isReference(`docker.io/x/${'a'.repeat(253)}`));
  assert.ok(!isReference(`docker.io/x/${'a'.repeat(254)}`));
  // familiar names get `library/` and count it
  assert.ok(isReference('a'.repeat(247)));
  assert.ok(!isReference('a'.repeat(248)));
  assert.ok(isReference(`${'h'.repeat(300)}.io/a`));
  assert.ok(isReference(`foo:${'t'.repeat(128)}`));
});

test('part validators', () => {
  assert.ok(isValidTag('v1.0_rc-1'));
  assert.ok(!isValidTag('.v1'));
  assert.ok(isValidDomain('localhost:5000'));
  assert.ok(isValidDomain('[fe80::1]:5000'));
  assert.ok(!isValidDomain('a_b.com'));
  assert.ok(isValidPath('library/busybox'));
  assert.ok(!isValidPath('Library/busybox'));
});
