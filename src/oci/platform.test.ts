import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { Digest } from './digest.ts';
import type { Descriptor, ImageIndex, Platform } from './image-spec.ts';
import {
  compatiblePlatforms,
  currentPlatform,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatcher,
  selectManifest,
} from './platform.ts';

function entry(n: number, platform?: Platform): Descriptor {
  const d: Descriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest,
    size: 100,
  };
  if (platform !== undefined) d.platform = platform;
  return d;
}
const idx = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, manifests });
const p = (s: string): Platform => {
  const [os, architecture, variant] = s.split('/') as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
};

test('current platform maps Node names to OCI names', () => {
  const here = currentPlatform();
  assert.equal(here.os, 'linux');
  const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  if (expected[process.arch] !== undefined) assert.equal(here.architecture, expected[process.arch]);
  if (process.arch === 'arm64') assert.equal(here.variant, 'v8');
  if (process.arch === 'x64') assert.equal(here.variant, undefined);
});

test('normalises like containerd', () => {
  assert.deepEqual(normalizePlatform(p('Linux/x86_64')), p('linux/amd64'));
  assert.deepEqual(normalizePlatform(p('linux/amd64/v1')), p('linux/amd64'));
  assert.deepEqual(normalizePlatform(p('linux/aarch64/v8')), p('linux/arm64'));
  assert.deepEqual(normalizePlatform(p('linux/arm64/8')), p('linux/arm64'));
  assert.deepEqual(normalizePlatform(p('linux/arm')), p('linux/arm/v7'));
  assert.deepEqual(normalizePlatform(p('linux/armhf')), p('linux/arm/v7'));
  assert.deepEqual(normalizePlatform(p('linux/armel')), p('linux/arm/v6'));
  assert.deepEqual(normalizePlatform(p('linux/i386')), p('linux/386'));
  assert.deepEqual(normalizePlatform(p('macos/arm64')), p('darwin/arm64'));
  assert.equal(formatPlatform(p('linux/arm/v7')), 'linux/arm/v7');
  assert.deepEqual(parsePlatform('linux/arm64/v8'), p('linux/arm64'));
  assert.deepEqual(parsePlatform('linux/amd64'), p('linux/amd64'));
  assert.equal(parsePlatform('windows').os, 'windows');
  assert.equal(parsePlatform('arm64').architecture, 'arm64');
  assert.throws(
    () => parsePlatform('a/b/c/d'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => parsePlatform('linux//amd64'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('compatibility vectors', () => {
  assert.deepEqual(compatiblePlatforms(p('linux/amd64')).map(formatPlatform), ['linux/amd64', 'linux/386']);
  assert.deepEqual(compatiblePlatforms(p('linux/amd64/v3')).map(formatPlatform), [
    'linux/amd64/v3',
    'linux/amd64/v2',
    'linux/amd64',
    'linux/386',
  ]);
  assert.deepEqual(compatiblePlatforms(p('linux/arm64/v8')).map(formatPlatform), [
    'linux/arm64',
    'linux/arm/v8',
    'linux/arm/v7',
    'linux/arm/v6',
    'linux/arm/v5',
  ]);
  assert.deepEqual(compatiblePlatforms(p('linux/arm64/v8.2')).map(formatPlatform).slice(0, 3), [
    'linux/arm64/v8.2',
    'linux/arm64/v8.1',
    'linux/arm64',
  ]);
  assert.deepEqual(compatiblePlatforms(p('linux/arm64/v9.1')).map(formatPlatform).slice(0, 4), [
    'linux/arm64/v9.1',
    'linux/arm64/v9',
    'linux/arm64/v8.6',
    'linux/arm64/v8.5',
  ]);
  assert.deepEqual(compatiblePlatforms(p('linux/arm/v7')).map(formatPlatform), ['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
  const m = platformMatcher(p('linux/amd64'));
  assert.ok(m.match(p('linux/x86_64')));
  assert.ok(!m.match(p('windows/amd64')));
  assert.ok(!m.match(p('linux/amd64/v2')));
});

test('selectManifest prefers the exact platform, then compatible ones', () => {
  const index = idx(
    entry(1, p('linux/386')),
    entry(2, p('linux/arm/v6')),
    entry(3, p('linux/arm/v7')),
    entry(4, p('linux/amd64')),
    entry(5, p('linux/arm64/v8')),
    entry(6, p('unknown/unknown')),
  );
  assert.equal(selectManifest(index, p('linux/amd64')).digest, entry(4).digest);
  assert.equal(selectManifest(index, p('linux/arm64/v8')).digest, entry(5).digest);
  assert.equal(selectManifest(index, p('linux/arm64')).digest, entry(5).digest);
  assert.equal(selectManifest(index, p('linux/arm/v7')).digest, entry(3).digest);
  assert.equal(selectManifest(index, p('linux/arm/v6')).digest, entry(2).digest);
  // only 386 there: an amd64 host takes it
  assert.equal(selectManifest(idx(entry(1, p('linux/386'))), p('linux/amd64')).digest, entry(1).digest);
  // arm64 host without arm64 image runs arm/v7 before arm/v6
  assert.equal(selectManifest(idx(entry(2, p('linux/arm/v6')), entry(3, p('linux/arm/v7'))), p('linux/arm64/v8')).digest, entry(3).digest);
  // exact variant preferred over a lower one, whatever the order
  const amd = idx(entry(1, p('linux/amd64')), entry(2, p('linux/amd64/v3')), entry(3, p('linux/amd64/v2')));
  assert.equal(selectManifest(amd, p('linux/amd64/v2')).digest, entry(3).digest);
  assert.equal(selectManifest(amd, p('linux/amd64')).digest, entry(1).digest);
  // first of equals wins
  assert.equal(selectManifest(idx(entry(7, p('linux/amd64')), entry(8, p('linux/amd64'))), p('linux/amd64')).digest, entry(7).digest);
  // unlabelled entry only as a last resort
  assert.equal(selectManifest(idx(entry(9), entry(4, p('linux/amd64'))), p('linux/amd64')).digest, entry(4).digest);
  assert.equal(selectManifest(idx(entry(9), entry(5, p('linux/arm64'))), p('linux/amd64')).digest, entry(9).digest);
});

test('selectManifest without a match lists what is available', () => {
  const index = idx(entry(1, p('linux/arm64/v8')), entry(2, p('linux/s390x')), entry(3, p('linux/s390x')));
  assert.throws(
    () => selectManifest(index, p('linux/amd64')),
    (e: unknown) => {
      assert.ok(isBerthError(e, 'not-found'));
      assert.equal(e.code, 'no-matching-platform');
      assert.match(e.message, /linux\/amd64/);
      assert.match(e.message, /linux\/arm64\/v8, linux\/s390x$/);
      assert.deepEqual(e.fields.available, ['linux/arm64/v8', 'linux/s390x']);
      return true;
    },
  );
  assert.throws(() => selectManifest(idx(), p('linux/amd64')), /available: none/);
});
