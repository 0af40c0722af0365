// The node's own record of recent Events, in standalone and API-server mode alike, so that
// `berth describe pod` can show them through the node API without an API server. Events are
// aggregated as the API-server recorder does it (the same event within ten minutes counts up)
// and passed on to a further recorder (the API server's) when there is one. Bounded: the
// oldest go first.
import type { Logger } from '../util/logger.ts';
import { k8sTime } from './k8s-time.ts';
import type { KubeEvent, ObjectReference, Pod } from './k8s-types.ts';
import { type EventRecorder, type EventType, podEventReference } from './provider.ts';

const AGGREGATE_MS = 10 * 60_000;
const DEFAULT_CAPACITY = 1000;

export interface NodeEventLogOptions {
  nodeName: string;
  logger: Logger;
  /** Where events go on to (the API server); absent in standalone mode. */
  next?: EventRecorder;
  /** How many events are kept. Default 1000. */
  capacity?: number;
  now?: () => number;
}

/** Which events `list` returns: those about this object. */
export interface EventFilter {
  namespace?: string;
  name?: string;
  uid?: string;
}

export class NodeEventLog implements EventRecorder {
  readonly #options: NodeEventLogOptions;
  /** Insertion order is age order: a counted-up event moves to the end. */
  readonly #events = new Map<string, KubeEvent>();
  #sequence = 0;

  constructor(options: NodeEventLogOptions) {
    this.#options = options;
  }

  podEvent(pod: Pod, type: EventType, reason: string, message: string, container?: string): void {
    this.#record(podEventReference(pod, container), type, reason, message);
    // Debug only: whoever records an event has logged what happened already.
    this.#options.logger.debug({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, container, type, reason }, message);
    this.#options.next?.podEvent(pod, type, reason, message, container);
  }

  nodeEvent(type: EventType, reason: string, message: string): void {
    const { nodeName } = this.#options;
    this.#record({ kind: 'Node', name: nodeName, uid: nodeName }, type, reason, message);
    this.#options.logger.debug({ node: nodeName, type, reason }, message);
    this.#options.next?.nodeEvent?.(type, reason, message);
  }

  /** The events kept, oldest first; with a filter, those about that object. */
  list(filter: EventFilter = {}): KubeEvent[] {
    return [...this.#events.values()].filter(
      (e) =>
        (filter.namespace === undefined || e.involvedObject.namespace === filter.namespace) &&
        (filter.name === undefined || e.involvedObject.name === filter.name) &&
        (filter.uid === undefined || e.involvedObject.uid === filter.uid),
    );
  }

  #record(ref: ObjectReference, type: EventType, reason: string, message: string): void {
    const now = (this.#options.now ?? Date.now)();
    const key = JSON.stringify([ref.kind, ref.namespace, ref.name, ref.uid, ref.fieldPath, type, reason, message]);
    const seen = this.#events.get(key);
    if (seen !== undefined && now - Date.parse(seen.lastTimestamp ?? '') <= AGGREGATE_MS) {
      this.#events.delete(key);
      this.#events.set(key, { ...seen, count: (seen.count ?? 1) + 1, lastTimestamp: k8sTime(now) });
      return;
    }
    this.#events.delete(key);
    const { nodeName } = this.#options;
    const time = k8sTime(now);
    this.#events.set(key, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${ref.name ?? nodeName}.${(this.#sequence++).toString(16)}`, namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      type,
      source: { component: 'kubelet', host: nodeName },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      reportingComponent: 'kubelet',
      reportingInstance: nodeName,
    });
    const capacity = this.#options.capacity ?? DEFAULT_CAPACITY;
    while (this.#events.size > capacity) this.#events.delete(this.#events.keys().next().value!);
  }
}
