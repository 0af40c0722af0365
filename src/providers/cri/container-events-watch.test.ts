import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ContainerEventResponseSchema, ContainerEventType } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { podUidOfEvent } from './container-events-watch.ts';

const UID = 'io.kubernetes.pod.uid';

test("an event's pod: the sandbox's UID label, else the container's; none for a removed sandbox", () => {
  const sandboxEvent = create(ContainerEventResponseSchema, {
    containerId: 's1',
    containerEventType: ContainerEventType.CONTAINER_STARTED_EVENT,
    podSandboxStatus: { id: 's1', labels: { [UID]: 'pod-a' } },
  });
  assert.equal(podUidOfEvent(sandboxEvent), 'pod-a');
  const containerEvent = create(ContainerEventResponseSchema, {
    containerId: 'c2',
    containerEventType: ContainerEventType.CONTAINER_DELETED_EVENT,
    containersStatuses: [
      { id: 'c1', labels: { [UID]: 'pod-x' } },
      { id: 'c2', labels: { [UID]: 'pod-b' } },
    ],
  });
  assert.equal(podUidOfEvent(containerEvent), 'pod-b');
  const removedSandbox = create(ContainerEventResponseSchema, {
    containerId: 's1',
    containerEventType: ContainerEventType.CONTAINER_DELETED_EVENT,
  });
  assert.equal(podUidOfEvent(removedSandbox), undefined);
  const unlabelled = create(ContainerEventResponseSchema, { containerId: 'c3', containersStatuses: [{ id: 'c3' }] });
  assert.equal(podUidOfEvent(unlabelled), undefined);
});
