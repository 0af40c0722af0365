// The node's heartbeat: a Lease named after the node in kube-node-lease, renewed every quarter of
// its duration (the kubelet's 40 s lease, renewed every 10 s). A renewal reads the lease and
// replaces it with the read resourceVersion; a 409 Conflict reads it again; a missing lease is
// created, owned by the Node so that it goes with it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../util/logger.ts';
import type { Lease, Node } from '../k8s-types.ts';
import { apiErrorMessage, fromApi, type KubeApi, statusCode, toApi } from './kube-api.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const RENEW_TRIES = 5;

export interface NodeLeaseOptions {
  api: KubeApi;
  nodeName: string;
  logger: Logger;
  /** leaseDurationSeconds (kubelet --node-lease-duration-seconds). Default 40. */
  durationSeconds?: number;
  /** Renewal period. Default a quarter of the duration. */
  renewMs?: number;
  /** The Node, for the lease's owner reference. */
  node: () => Node | undefined;
}

/** A MicroTime as the API writes it: RFC 3339 with microseconds. */
export function microTime(at = Date.now()): string {
  return new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class NodeLease {
  readonly #options: NodeLeaseOptions;
  #renewals = 0;

  constructor(options: NodeLeaseOptions) {
    this.#options = options;
  }

  get renewals(): number {
    return this.#renewals;
  }

  #spec(): NonNullable<Lease['spec']> {
    return { holderIdentity: this.#options.nodeName, leaseDurationSeconds: this.#options.durationSeconds ?? 40, renewTime: microTime() };
  }

  #ownerReferences(): unknown[] | undefined {
    const node = this.#options.node();
    if (node?.metadata.uid === undefined) return undefined;
    return [{ apiVersion: 'v1', kind: 'Node', name: this.#options.nodeName, uid: node.metadata.uid }];
  }

  async renew(): Promise<void> {
    const { api, nodeName } = this.#options;
    for (let attempt = 1; ; attempt++) {
      let current: Lease | undefined;
      try {
        current = fromApi<Lease>(await api.coordination.readNamespacedLease({ name: nodeName, namespace: NODE_LEASE_NAMESPACE }));
      } catch (e) {
        if (statusCode(e) !== 404) throw e;
      }
      try {
        if (current === undefined) {
          const owners = this.#ownerReferences();
          const body: Lease = {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: nodeName, namespace: NODE_LEASE_NAMESPACE, ...(owners ? { ownerReferences: owners } : {}) },
            spec: this.#spec(),
          };
          await api.coordination.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body: toApi(body) });
        } else {
          const owners = current.metadata.ownerReferences ?? this.#ownerReferences();
          const body: Lease = {
            ...current,
            metadata: { ...current.metadata, ...(owners ? { ownerReferences: owners } : {}) },
            spec: { ...current.spec, ...this.#spec() },
          };
          await api.coordination.replaceNamespacedLease({ name: nodeName, namespace: NODE_LEASE_NAMESPACE, body: toApi(body) });
        }
        this.#renewals++;
        return;
      } catch (e) {
        // 409: changed since read (or created meanwhile): read again.
        if (statusCode(e) !== 409 || attempt >= RENEW_TRIES) throw e;
      }
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const renewMs = this.#options.renewMs ?? ((this.#options.durationSeconds ?? 40) * 1000) / 4;
    let failing = false;
    while (!signal.aborted) {
      try {
        await this.renew();
        if (failing) this.#options.logger.info('renewing the node lease works again');
        failing = false;
      } catch (e) {
        if (signal.aborted) return;
        if (!failing) this.#options.logger.warn({ err: apiErrorMessage(e), code: statusCode(e) }, 'renewing the node lease failed');
        failing = true;
      }
      // The kubelet retries a failed renewal sooner (200 ms doubling to 7 s); a short fixed pause does.
      await sleep(failing ? Math.min(renewMs, 1000) : renewMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
