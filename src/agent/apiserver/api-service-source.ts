// The services of a namespace, for the containers' service environment variables. The kubelet
// watches every service of the cluster; berth node instead lists a namespace's services when a
// container starts and keeps the list for a short while (TTL), so that the API server sees at most
// one list per namespace and TTL however many containers start, and no watch at all. A service
// made within the TTL before a container starts may be missing from its variables.
import type { Service } from '../k8s-types.ts';
import type { ServiceSource } from '../provider.ts';
import { apiError, apiErrorMessage, fromApi, type KubeApi, statusCode } from './kube-api.ts';

export const SERVICE_LIST_TTL_MS = 10_000;

interface CachedList {
  at: number;
  services: Promise<Service[]>;
}

export class ApiServiceSource implements ServiceSource {
  readonly #api: KubeApi;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #lists = new Map<string, CachedList>();

  constructor(api: KubeApi, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#api = api;
    this.#ttlMs = options.ttlMs ?? SERVICE_LIST_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  async listServices(namespace: string, signal: AbortSignal): Promise<Service[]> {
    signal.throwIfAborted();
    const now = this.#now();
    const cached = this.#lists.get(namespace);
    if (cached !== undefined && now - cached.at < this.#ttlMs) return cached.services;
    for (const [ns, entry] of this.#lists) if (now - entry.at >= this.#ttlMs) this.#lists.delete(ns);
    const services = this.#api.core
      .listNamespacedService({ namespace })
      .then((list) => fromApi<{ items?: Service[] }>(list).items ?? [])
      .catch((e: unknown) => {
        const message = `cannot construct the service environment variables: listing the services of ${namespace}: ${apiErrorMessage(e)}`;
        throw apiError(message, statusCode(e), e);
      });
    const entry = { at: now, services };
    this.#lists.set(namespace, entry);
    // A failed list is not kept: the next container start asks again.
    services.catch(() => {
      if (this.#lists.get(namespace) === entry) this.#lists.delete(namespace);
    });
    return services;
  }
}
