import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_IMAGE_GC_POLICY, type ImageRecord, removableImages, sandboxImageOf } from './image-gc.ts';
import { imageGcPolicyFromConfig } from './image-gc-config.ts';

test("the kubelet's defaults; each setting may be given", () => {
  assert.deepEqual(imageGcPolicyFromConfig({}), {
    highThresholdPercent: 85,
    lowThresholdPercent: 80,
    minAgeMs: 120_000,
    periodMs: 300_000,
  });
  assert.deepEqual(DEFAULT_IMAGE_GC_POLICY, imageGcPolicyFromConfig({}));
  assert.deepEqual(
    imageGcPolicyFromConfig({
      imageGCHighThresholdPercent: 1,
      imageGCLowThresholdPercent: 0,
      imageMinimumGCAgeMs: 0,
      imageGCPeriodMs: 1000,
    }),
    { highThresholdPercent: 1, lowThresholdPercent: 0, minAgeMs: 0, periodMs: 1000 },
  );
});

test('bad settings are refused with the key named', () => {
  assert.throws(
    () => imageGcPolicyFromConfig({ imageGCHighThresholdPercent: 101 }),
    /imageGCHighThresholdPercent must be a number from 0 to 100/,
  );
  assert.throws(() => imageGcPolicyFromConfig({ imageGCLowThresholdPercent: '5' }), /imageGCLowThresholdPercent must be a number/);
  assert.throws(() => imageGcPolicyFromConfig({ imageMinimumGCAgeMs: -1 }), /imageMinimumGCAgeMs/);
  assert.throws(
    () => imageGcPolicyFromConfig({ imageGCHighThresholdPercent: 50, imageGCLowThresholdPercent: 60 }),
    /imageGCLowThresholdPercent \(60\) must not be above imageGCHighThresholdPercent \(50\)/,
  );
});

test("the sandbox image from the runtime's verbose status: containerd's and berth's spelling", () => {
  assert.equal(sandboxImageOf({ config: JSON.stringify({ sandboxImage: 'registry.k8s.io/pause:3.6' }) }), 'registry.k8s.io/pause:3.6');
  assert.equal(sandboxImageOf({ config: JSON.stringify({ sandbox_image: 'registry.k8s.io/pause:3.9' }) }), 'registry.k8s.io/pause:3.9');
  assert.equal(sandboxImageOf({}), undefined);
  assert.equal(sandboxImageOf({ config: 'not json' }), undefined);
});

test('removable images: unused, unpinned, first seen at least the minimum age ago; least recently used first', () => {
  const record = (r: Partial<ImageRecord>): ImageRecord => ({ firstDetected: 0, lastUsed: 0, size: 1, pinned: false, inUse: false, ...r });
  const now = 1_000_000;
  const records = new Map<string, ImageRecord>([
    ['used-long-ago', record({ firstDetected: 10, lastUsed: 500_000 })],
    ['never-used-late', record({ firstDetected: 300 })],
    ['never-used-early', record({ firstDetected: 200 })],
    ['in-use', record({ inUse: true, lastUsed: now })],
    ['pinned', record({ pinned: true })],
    ['just-unused', record({ lastUsed: now - 60_000 })],
    ['just-seen', record({ firstDetected: now - 1000 })],
  ]);
  assert.deepEqual(
    removableImages(records, now, 120_000).map(([id]) => id),
    ['never-used-early', 'never-used-late', 'used-long-ago', 'just-unused'],
  );
  assert.deepEqual(
    removableImages(records, now, 0).map(([id]) => id),
    ['never-used-early', 'never-used-late', 'just-seen', 'used-long-ago', 'just-unused'],
  );
});
