// Container lifecycle events for CRI GetContainerEvents (the kubelet's evented PLEG): published
// where a container's or a sandbox's state really changes, with the pod's state right after the
// change. Sandbox events carry the sandbox ID as the container ID, as containerd's do.
import type { ContainerRecord, PodStore, SandboxRecord } from '../store/pod-store.ts';
import { EventBus } from '../util/event-bus.ts';
import { nowNanos } from './names.ts';

export type ContainerEventType = 'created' | 'started' | 'stopped' | 'deleted';

export interface ContainerEvent {
  /** The container's ID, or the sandbox's for a sandbox event. */
  containerId: string;
  type: ContainerEventType;
  /** Nanoseconds since the epoch. */
  createdAt: bigint;
  /** The pod's sandbox after the change; absent once it is removed. */
  sandbox?: SandboxRecord;
  /** Every container of the pod after the change. */
  containers: ContainerRecord[];
}

export type ContainerEventBus = EventBus<ContainerEvent>;

/** Events of the daemon's start (exits found by the recovery) wait for the first subscriber. */
export function newContainerEventBus(retainAtStart: number): ContainerEventBus {
  return new EventBus<ContainerEvent>({ retainUntilFirstSubscriber: retainAtStart });
}

/** Publishes an event about `containerId` (a container, or the sandbox itself) of pod `sandboxId`. */
export function publishContainerEvent(
  deps: { store: PodStore; events?: ContainerEventBus },
  containerId: string,
  sandboxId: string,
  type: ContainerEventType,
): void {
  deps.events?.publish({
    containerId,
    type,
    createdAt: BigInt(nowNanos()),
    sandbox: deps.store.getSandbox(sandboxId),
    containers: deps.store.containersOf(sandboxId),
  });
}
