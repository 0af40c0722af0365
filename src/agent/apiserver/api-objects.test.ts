import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node, Pod } from '../k8s-types.ts';
import { apiError, fromApi, statusCode } from './kube-api.ts';
import { currentMirror, isMirrorPod, MIRROR_ANNOTATION, mirrorPodFor } from './mirror-pods.ts';
import { microTime } from './node-lease.ts';
import { statusToWrite } from './pod-status-reporter.ts';

const staticPod: Pod = {
  metadata: {
    name: 'web-node1',
    namespace: 'default',
    uid: 'hash1',
    labels: { app: 'web' },
    annotations: { 'kubernetes.io/config.hash': 'hash1', 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.seen': 'x' },
  },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
};
const node: Node = { metadata: { name: 'node1', uid: 'node-uid' } };

test('a mirror pod: the static pod without its UID and seen time, annotated with its hash, owned by the Node', () => {
  const mirror = mirrorPodFor(staticPod, node);
  assert.deepEqual(mirror.metadata, {
    name: 'web-node1',
    namespace: 'default',
    labels: { app: 'web' },
    annotations: { 'kubernetes.io/config.hash': 'hash1', 'kubernetes.io/config.source': 'file', [MIRROR_ANNOTATION]: 'hash1' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node1', uid: 'node-uid', controller: true }],
  });
  assert.equal(mirror.spec.nodeName, 'node1');
  assert.ok(isMirrorPod(mirror));
  assert.equal(isMirrorPod(staticPod), false);
  const inApi = { ...mirror, metadata: { ...mirror.metadata, uid: 'm1' } };
  assert.equal(currentMirror(staticPod, [inApi])?.metadata.uid, 'm1');
  const outdated = { ...inApi, metadata: { ...inApi.metadata, annotations: { [MIRROR_ANNOTATION]: 'old' } } };
  assert.equal(currentMirror(staticPod, [outdated]), undefined);
  const deleting = { ...inApi, metadata: { ...inApi.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
  assert.equal(currentMirror(staticPod, [deleting]), undefined);
});

test('the status written keeps conditions of types the node does not set', () => {
  const target: Pod = {
    ...staticPod,
    status: {
      conditions: [
        { type: 'Ready', status: 'False' },
        { type: 'DisruptionTarget' as 'Ready', status: 'True', reason: 'EvictionByEvictionAPI' },
      ],
    },
  };
  const written = statusToWrite(target, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
  assert.deepEqual(
    written.conditions?.map((c) => [c.type, c.status]),
    [
      ['Ready', 'True'],
      ['DisruptionTarget', 'True'],
    ],
  );
});

test('times: MicroTime with microseconds; library Dates back to the API strings; status codes of failures', () => {
  assert.equal(microTime(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  assert.deepEqual(
    fromApi({ metadata: { creationTimestamp: new Date('2026-01-02T03:04:05Z') }, spec: { at: new Date('2026-01-02T03:04:05.5Z') } }),
    {
      metadata: { creationTimestamp: '2026-01-02T03:04:05Z' },
      spec: { at: '2026-01-02T03:04:05.500Z' },
    },
  );
  assert.equal(statusCode({ code: 409 }), 409);
  assert.equal(statusCode({ statusCode: 410 }), 410);
  assert.equal(statusCode(new Error('x')), undefined);
  // A failure made typed keeps its status, and its kind follows it.
  assert.equal(statusCode(apiError('gone', 404)), 404);
  assert.equal(apiError('gone', 404).kind, 'not-found');
  assert.equal(apiError('refused', undefined).kind, 'unavailable');
});
