import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { parseReference } from '../oci/reference.ts';
import { criRepoDigests, criRepoTags, dockerNamesOf, mirrorPrefix, pullSources } from './docker-image-names.ts';

const D = `sha256:${'a'.repeat(64)}`;
const registries = {
  'registry.example': {
    mirrors: ['http://127.0.0.1:5000', 'https://harbor.example/v2/proxy/', 'https://bad.example/prefix'],
    insecure: false,
  },
  'index.docker.io': { mirrors: ['http://127.0.0.1:5001'], insecure: false },
};

test('a mirror maps to a Docker name prefix only when its path is empty or under /v2/', () => {
  assert.deepEqual(mirrorPrefix('http://127.0.0.1:5000/'), { host: '127.0.0.1:5000', path: '' });
  assert.deepEqual(mirrorPrefix('https://harbor.example/v2/proxy'), { host: 'harbor.example', path: 'proxy' });
  const bad = mirrorPrefix('https://bad.example/prefix');
  assert.ok(isBerthError(bad) && bad.code === 'docker-mirror-unusable');
});

test('pull sources: the mirrors in order under their names, then the host; docker.io aliases count', () => {
  const sources = pullSources(parseReference('registry.example/lib/busybox:1'), registries);
  assert.deepEqual(
    sources.map((s) => ('repository' in s ? s.repository.string() : 'unusable')),
    ['127.0.0.1:5000/lib/busybox', 'harbor.example/proxy/lib/busybox', 'unusable', 'registry.example/lib/busybox'],
  );
  const hub = pullSources(parseReference('busybox'), registries);
  assert.deepEqual(
    hub.map((s) => ('repository' in s ? s.repository.string() : '')),
    ['127.0.0.1:5001/library/busybox', 'docker.io/library/busybox'],
  );
  assert.deepEqual(dockerNamesOf(parseReference('registry.example/lib/busybox:1'), registries), ['registry.example/lib/busybox:1']);
  assert.deepEqual(dockerNamesOf(parseReference(`registry.example/lib/busybox@${D}`), registries), [
    `registry.example/lib/busybox@${D}`,
    `127.0.0.1:5000/lib/busybox@${D}`,
    `harbor.example/proxy/lib/busybox@${D}`,
  ]);
});

test('repo tags are normalised; repo digests under a mirror name map back to the asked name', () => {
  assert.deepEqual(criRepoTags(['busybox:latest', '<none>:<none>']), ['docker.io/library/busybox:latest']);
  const tags = ['registry.example/lib/busybox:1'];
  assert.deepEqual(criRepoDigests([`127.0.0.1:5000/lib/busybox@${D}`], tags, registries), [`registry.example/lib/busybox@${D}`]);
  assert.deepEqual(criRepoDigests([`harbor.example/proxy/lib/busybox@${D}`], tags, registries), [`registry.example/lib/busybox@${D}`]);
  // Pulled by digest through a mirror: no tag anywhere, the asked name still.
  assert.deepEqual(criRepoDigests([`127.0.0.1:5001/library/busybox@${D}`], [], registries), [`docker.io/library/busybox@${D}`]);
  // Tagged under the mirror's own name too: both.
  assert.deepEqual(criRepoDigests([`127.0.0.1:5000/lib/busybox@${D}`], [...tags, '127.0.0.1:5000/lib/busybox:1'], registries).sort(), [
    `127.0.0.1:5000/lib/busybox@${D}`,
    `registry.example/lib/busybox@${D}`,
  ]);
  // Not a mirror: as it is.
  assert.deepEqual(criRepoDigests([`quay.io/x/y@${D}`], ['quay.io/x/y:1'], registries), [`quay.io/x/y@${D}`]);
});
