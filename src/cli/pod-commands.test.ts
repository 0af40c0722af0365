import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { PodSandboxSchema, PodSandboxState, PodSandboxStatusResponseSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { podStatusJson, podStatusText, podsTable, podsVerbose } from './pod-commands.ts';
import { newestFirst } from './resource-commands.ts';

process.env.TZ = 'UTC';
const NOW = 1_795_869_130_000;
const ms = (t: number) => BigInt(t) * 1_000_000n;

const web = create(PodSandboxSchema, {
  id: '716dc2cf74680bb8ed53d3697a89990faab4d1dc0ab31889ae3670d1fdd1b366',
  metadata: { name: 'web', namespace: 'default', uid: 'abc-123', attempt: 1 },
  state: PodSandboxState.SANDBOX_READY,
  createdAt: 1_795_869_126_623_456_212n,
  labels: { app: 'web' },
});
const db = create(PodSandboxSchema, {
  id: '98d55eae498d40fad74c8aeec1ca7e6e48b2babaa098929928626a46e7a038f7',
  metadata: { name: 'a-rather-long-pod-name', namespace: 'kube-system' },
  state: PodSandboxState.SANDBOX_NOTREADY,
  createdAt: ms(NOW - 7_200_000),
  runtimeHandler: 'runc',
});

test('berth pods prints the table crictl 1.26 prints', () => {
  assert.equal(
    podsTable([web, db], { now: NOW }),
    'POD ID              CREATED             STATE               NAME                     NAMESPACE           ATTEMPT             RUNTIME\n' +
      '716dc2cf74680       3 seconds ago       Ready               web                      default             1                   (default)\n' +
      '98d55eae498d4       2 hours ago         NotReady            a-rather-long-pod-name   kube-system         0                   runc\n',
  );
  assert.match(podsTable([web], { now: NOW, noTrunc: true }), /^POD ID {61}CREATED {13}STATE/);
  assert.equal(
    podsTable([], { now: NOW }),
    'POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME\n',
  );
});

test('berth pods -v prints one block per pod', () => {
  assert.equal(
    podsVerbose([web]),
    'ID: 716dc2cf74680bb8ed53d3697a89990faab4d1dc0ab31889ae3670d1fdd1b366\nName: web\nUID: abc-123\nNamespace: default\nAttempt: 1\n' +
      'Status: Ready\nCreated: 2026-11-28 12:32:06.623456212 +0000 UTC\nLabels:\n\tapp -> web\nRuntime: (default)\n\n',
  );
});

test('newest first; --latest and --last', () => {
  const a = { createdAt: 1n, n: 'a' };
  const b = { createdAt: 3n, n: 'b' };
  const c = { createdAt: 2n, n: 'c' };
  assert.deepEqual(
    newestFirst([a, b, c], false, 0).map((x) => x.n),
    ['b', 'c', 'a'],
  );
  assert.deepEqual(
    newestFirst([a, b, c], true, 0).map((x) => x.n),
    ['b'],
  );
  assert.deepEqual(
    newestFirst([a, b, c], false, 2).map((x) => x.n),
    ['b', 'c'],
  );
  assert.deepEqual(
    newestFirst([a], false, 5).map((x) => x.n),
    ['a'],
  );
});

test('inspectp: createdAt as an RFC 3339 time, nested keys sorted, and the text form', () => {
  const r = create(PodSandboxStatusResponseSchema, {
    status: {
      id: web.id,
      metadata: web.metadata,
      state: PodSandboxState.SANDBOX_READY,
      createdAt: web.createdAt,
      network: { ip: '10.98.0.2' },
      labels: { b: '2', a: '1' },
    },
    info: { pid: '42' },
  });
  const json = podStatusJson(r);
  assert.equal(json.createdAt, '2026-11-28T12:32:06.623456212Z');
  assert.deepEqual(Object.keys(json).slice(0, 5), ['id', 'metadata', 'state', 'createdAt', 'network']);
  assert.deepEqual(Object.keys(json.metadata as object), ['attempt', 'name', 'namespace', 'uid']);
  assert.deepEqual(json.network, { additionalIps: [], ip: '10.98.0.2' });
  assert.equal(
    podStatusText(r, true),
    `ID: ${web.id}\nName: web\nUID: abc-123\nNamespace: default\nAttempt: 1\nStatus: SANDBOX_READY\n` +
      'Created: 2026-11-28 12:32:06.623456212 +0000 UTC\nIP Addresses: 10.98.0.2\nLabels:\n\ta -> 1\n\tb -> 2\nInfo: map[pid:42]\n',
  );
});
