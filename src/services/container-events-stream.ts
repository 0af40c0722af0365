// GetContainerEvents: a server stream of the daemon's container and sandbox events, one
// subscription per call. A client that falls more than the buffer behind gets RESOURCE_EXHAUSTED
// and may subscribe again (and relist); a cancelled call ends quietly.

import { ContainerEventType as CriContainerEventType } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { RuntimeOperations } from '../cri-api/operations.ts';
import { resourceExhausted } from '../errors/errors.ts';
import { SubscriberOverflowError } from '../util/event-bus.ts';
import type { ContainerEvent, ContainerEventBus, ContainerEventType } from './container-events.ts';
import { criContainerStatus, criPodSandboxStatus } from './pod-convert.ts';

const EVENT_TYPES: Record<ContainerEventType, CriContainerEventType> = {
  created: CriContainerEventType.CONTAINER_CREATED_EVENT,
  started: CriContainerEventType.CONTAINER_STARTED_EVENT,
  stopped: CriContainerEventType.CONTAINER_STOPPED_EVENT,
  deleted: CriContainerEventType.CONTAINER_DELETED_EVENT,
};

export function criContainerEvent(e: ContainerEvent) {
  return {
    containerId: e.containerId,
    containerEventType: EVENT_TYPES[e.type],
    createdAt: e.createdAt,
    podSandboxStatus: e.sandbox === undefined ? undefined : criPodSandboxStatus(e.sandbox),
    containersStatuses: e.containers.map(criContainerStatus),
  };
}

/** The operation, when the daemon publishes events; without a bus the RPC stays UNIMPLEMENTED. */
export function containerEventsOperations(bus: ContainerEventBus | undefined, bufferSize: number): RuntimeOperations {
  if (bus === undefined) return {};
  return {
    async *getContainerEvents(_request, context) {
      try {
        for await (const event of bus.subscribe(bufferSize, context.signal)) yield criContainerEvent(event);
      } catch (e) {
        if (e instanceof SubscriberOverflowError) throw resourceExhausted('container-events-overflow', e.message, { cause: e });
        throw e;
      }
    },
  };
}
