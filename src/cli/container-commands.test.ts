import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ContainerSchema, ContainerState, ContainerStatusResponseSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { containerStatusJson, containerStatusText, containersTable, containersVerbose, displayImage } from './container-commands.ts';

process.env.TZ = 'UTC';
const NOW = 1_795_869_130_000;

const main = create(ContainerSchema, {
  id: '98d55eae498d40fad74c8aeec1ca7e6e48b2babaa098929928626a46e7a038f7',
  podSandboxId: '716dc2cf74680bb8ed53d3697a89990faab4d1dc0ab31889ae3670d1fdd1b366',
  metadata: { name: 'main', attempt: 0 },
  image: { image: 'docker.io/library/busybox:1.36' },
  state: ContainerState.CONTAINER_RUNNING,
  createdAt: BigInt(NOW - 3000) * 1_000_000n,
  labels: { 'io.kubernetes.pod.name': 'web' },
});
const sidecar = create(ContainerSchema, {
  id: '4b3eab2e139d63ee1bed5821e86c1e6ee818d0f36d2f288d5e0c4503d5484072',
  podSandboxId: '716dc2cf74680bb8ed53d3697a89990faab4d1dc0ab31889ae3670d1fdd1b366',
  metadata: { name: 'sidecar', attempt: 2 },
  image: { image: 'sha256:058e15f4da8ce1995d4e86a992c145189ff5da1e3eabe9a00031d6d1f70cfd0c' },
  state: ContainerState.CONTAINER_EXITED,
  createdAt: BigInt(NOW - 90_000) * 1_000_000n,
});

test('berth ps prints the table crictl prints, POD from the pod-name label, else the pod name', () => {
  assert.equal(
    containersTable([main, sidecar], { now: NOW }),
    'CONTAINER           IMAGE                            CREATED              STATE               NAME                ATTEMPT             POD ID              POD\n' +
      '98d55eae498d4       docker.io/library/busybox:1.36   3 seconds ago        Running             main                0                   716dc2cf74680       web\n' +
      '4b3eab2e139d6       058e15f4da8ce                    About a minute ago   Exited              sidecar             2                   716dc2cf74680       unknown\n',
  );
  // Without the label, the pod's own name (as the runtime lists the pod).
  const named = containersTable([sidecar], { now: NOW, podNames: new Map([[sidecar.podSandboxId, 'web']]) });
  assert.match(named, /716dc2cf74680 {7}web\n$/);
  const full = containersTable([sidecar], { now: NOW, noTrunc: true });
  assert.ok(full.includes(`${sidecar.id}   sha256:058e15f4da8ce1995d4e86a992c145189ff5da1e3eabe9a00031d6d1f70cfd0c   About a minute ago`));
  assert.equal(displayImage('busybox@sha256:abc', false), 'busybox@sha256:abc');
  assert.equal(displayImage('sha256:058e15f4da8ce1995d4e86a992c145189ff5da1e3eabe9a00031d6d1f70cfd0c', false), '058e15f4da8ce');
});

test('berth ps -v prints one block per container', () => {
  assert.equal(
    containersVerbose([main], NOW),
    `ID: ${main.id}\nPodID: ${main.podSandboxId}\nName: main\nAttempt: 0\nState: Running\nImage: docker.io/library/busybox:1.36\n` +
      'Created: 3 seconds ago\nLabels:\n\tio.kubernetes.pod.name -> web\n\n',
  );
});

test('inspect: times as RFC 3339, and Go zero time for what has not happened', () => {
  const r = create(ContainerStatusResponseSchema, {
    status: {
      id: main.id,
      metadata: { name: 'main' },
      state: ContainerState.CONTAINER_RUNNING,
      createdAt: 1_795_869_126_801_470_983n,
      startedAt: 1_795_869_126_913_541_402n,
      image: { image: 'busybox' },
      logPath: '/var/log/main.log',
    },
    info: { pid: '31291' },
  });
  const json = containerStatusJson(r);
  assert.equal(json.createdAt, '2026-11-28T12:32:06.801470983Z');
  assert.equal(json.startedAt, '2026-11-28T12:32:06.913541402Z');
  assert.equal(json.finishedAt, '0001-01-01T00:00:00Z');
  assert.equal(json.state, 'CONTAINER_RUNNING');
  assert.equal(json.resources, null);
  assert.deepEqual(Object.keys(json).slice(0, 7), ['id', 'metadata', 'state', 'createdAt', 'startedAt', 'finishedAt', 'exitCode']);
  r.status!.state = ContainerState.CONTAINER_CREATED;
  assert.equal(containerStatusJson(r).startedAt, '0001-01-01T00:00:00Z');
  r.status!.state = ContainerState.CONTAINER_EXITED;
  r.status!.finishedAt = 1_795_869_127_000_000_000n;
  r.status!.exitCode = 137;
  assert.equal(containerStatusJson(r).finishedAt, '2026-11-28T12:32:07Z');
  assert.equal(
    containerStatusText(r, false, 1_795_869_130_000),
    `ID: ${main.id}\nName: main\nState: CONTAINER_EXITED\nCreated: 3 seconds ago\nStarted: 3 seconds ago\nFinished: 3 seconds ago\nExit Code: 137\n`,
  );
});
