// Kubernetes Events from the node, as the kubelet records them: core/v1 Events named
// `<object>.<hex time>` in the object's namespace, with source kubelet on this host; the same event
// again within ten minutes raises the count of the first (a merge patch of count and
// lastTimestamp) instead of making a new one, as client-go's event correlator does. Recording is
// fire-and-forget, in order, through one queue; a failure is logged and dropped.
import type { Logger } from '../../util/logger.ts';
import { k8sTime } from '../k8s-time.ts';
import type { KubeEvent, ObjectReference, Pod } from '../k8s-types.ts';
import { type EventRecorder, type EventType, podEventReference } from '../provider.ts';
import { apiErrorMessage, fromApi, type KubeApi, MERGE_PATCH, statusCode, toApi } from './kube-api.ts';

const AGGREGATE_MS = 10 * 60_000;
const MAX_QUEUE = 1000;

interface Recent {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

export interface ApiEventRecorderOptions {
  api: KubeApi;
  nodeName: string;
  logger: Logger;
  /** The component named as the source. Default kubelet. */
  component?: string;
}

export class ApiEventRecorder implements EventRecorder {
  readonly #options: ApiEventRecorderOptions;
  readonly #recent = new Map<string, Recent>();
  #queue: (() => Promise<void>)[] = [];
  #draining: Promise<void> | undefined;
  #recorded = 0;
  #lastNanos = 0n;

  constructor(options: ApiEventRecorderOptions) {
    this.#options = options;
  }

  /** Events written so far (created or counted up). */
  get recorded(): number {
    return this.#recorded;
  }

  podEvent(pod: Pod, type: EventType, reason: string, message: string, container?: string): void {
    this.event(podEventReference(pod, container), type, reason, message);
  }

  /** An event about the Node (the kubelet names its node by name, and uses the name as UID). */
  nodeEvent(type: EventType, reason: string, message: string): void {
    const { nodeName } = this.#options;
    this.event({ kind: 'Node', name: nodeName, uid: nodeName }, type, reason, message);
  }

  event(ref: ObjectReference, type: EventType, reason: string, message: string): void {
    if (this.#queue.length >= MAX_QUEUE) return;
    this.#queue.push(() => this.#write(ref, type, reason, message));
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /** Resolves when every event recorded so far was written (or dropped). */
  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      try {
        await next();
      } catch (e) {
        this.#options.logger.warn({ err: apiErrorMessage(e), code: statusCode(e) }, 'recording an event failed');
      }
    }
  }

  async #write(ref: ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const { api, nodeName } = this.#options;
    const component = this.#options.component ?? 'kubelet';
    const namespace = ref.namespace || 'default';
    const key = JSON.stringify([ref.kind, namespace, ref.name, ref.uid, ref.fieldPath, type, reason, message]);
    const now = Date.now();
    for (const [k, r] of this.#recent) if (now - r.at > AGGREGATE_MS) this.#recent.delete(k);
    const recent = this.#recent.get(key);
    if (recent !== undefined) {
      recent.count++;
      recent.at = now;
      try {
        await api.core.patchNamespacedEvent(
          { name: recent.name, namespace: recent.namespace, body: { count: recent.count, lastTimestamp: k8sTime(now) } },
          MERGE_PATCH,
        );
        this.#recorded++;
        return;
      } catch (e) {
        if (statusCode(e) !== 404) throw e;
        this.#recent.delete(key); // gone (expired on the server): make a new one
      }
    }
    const time = k8sTime(now);
    // `<name>.<hex nanoseconds>` as the kubelet names them; strictly increasing, so never the same twice.
    const nanos = BigInt(now) * 1_000_000n;
    this.#lastNanos = nanos > this.#lastNanos ? nanos : this.#lastNanos + 1n;
    const name = `${ref.name ?? nodeName}.${this.#lastNanos.toString(16)}`;
    const body: KubeEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: ref,
      reason,
      message,
      type,
      source: { component, host: nodeName },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      reportingComponent: component,
      reportingInstance: nodeName,
    };
    const created = fromApi<KubeEvent>(await api.core.createNamespacedEvent({ namespace, body: toApi(body) }));
    this.#recent.set(key, { name: created.metadata.name ?? name, namespace, count: 1, at: now });
    this.#recorded++;
  }
}
