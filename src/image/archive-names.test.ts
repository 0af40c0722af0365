import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { dockerSaveNames, ociEntryNames, parseBaseName } from './archive-names.ts';

const D = `sha256:${'a'.repeat(64)}` as Digest;
const OTHER = `sha256:${'b'.repeat(64)}` as Digest;

test('the containerd name wins over ref.name; names get the entry digest as repo digest', () => {
  const n = ociEntryNames({ 'io.containerd.image.name': 'busybox:1.36', 'org.opencontainers.image.ref.name': 'other' }, D);
  assert.deepEqual(n, { repoTags: ['docker.io/library/busybox:1.36'], repoDigests: [`docker.io/library/busybox@${D}`], warnings: [] });
});

test('a ref.name with / : or @ is a full reference; a bare tag needs a base name', () => {
  assert.deepEqual(ociEntryNames({ 'org.opencontainers.image.ref.name': 'quay.io/x/y:2' }, D).repoTags, ['quay.io/x/y:2']);
  assert.deepEqual(ociEntryNames({ 'org.opencontainers.image.ref.name': 'team/app' }, D).repoTags, ['docker.io/team/app:latest']);
  const bare = ociEntryNames({ 'org.opencontainers.image.ref.name': '1.0' }, D);
  assert.deepEqual([bare.repoTags, bare.repoDigests], [[], []]);
  assert.match(bare.warnings[0]!, /only a tag/);
  const based = ociEntryNames({ 'org.opencontainers.image.ref.name': '1.0' }, D, parseBaseName('localhost:5000/app'));
  assert.deepEqual(based.repoTags, ['localhost:5000/app:1.0']);
  assert.deepEqual(based.repoDigests, [`localhost:5000/app@${D}`]);
});

test('no annotations: no name; a bad name or a foreign digest: a warning', () => {
  assert.deepEqual(ociEntryNames(undefined, D), { repoTags: [], repoDigests: [], warnings: [] });
  assert.equal(ociEntryNames({ 'io.containerd.image.name': 'Bad Name' }, D).warnings.length, 1);
  const byDigest = ociEntryNames({ 'io.containerd.image.name': `x/y@${D}` }, D);
  assert.deepEqual([byDigest.repoTags, byDigest.repoDigests], [[], [`docker.io/x/y@${D}`]]);
  assert.equal(ociEntryNames({ 'io.containerd.image.name': `x/y@${OTHER}` }, D).repoDigests.length, 0);
});

test('docker save RepoTags are normalised; bad ones are skipped', () => {
  const n = dockerSaveNames(['busybox:latest', 'localhost:5000/a/b:1', 'UPPER:1', `x@${D}`], 'manifest.json[0]');
  assert.deepEqual(n.repoTags, ['docker.io/library/busybox:latest', 'localhost:5000/a/b:1']);
  assert.deepEqual(n.repoDigests, []);
  assert.equal(n.warnings.length, 2);
});

test('a base name is a repository', () => {
  assert.equal(parseBaseName('app').name, 'docker.io/library/app');
  assert.throws(
    () => parseBaseName('app:1'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => parseBaseName(`app@${D}`),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});
