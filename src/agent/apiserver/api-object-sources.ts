// Secrets and ConfigMaps read from the API server, for the provider: image pull secrets, env
// valueFrom and envFrom, secret and configMap volumes. Static pods read them from here too in
// API-server mode. A missing object (404) is undefined; other failures throw.
import type { ConfigMap, Secret } from '../k8s-types.ts';
import type { ConfigMapSource, SecretSource } from '../provider.ts';
import { fromApi, type KubeApi, statusCode } from './kube-api.ts';

async function orUndefined<T>(read: () => Promise<unknown>): Promise<T | undefined> {
  try {
    return fromApi<T>(await read());
  } catch (e) {
    if (statusCode(e) === 404) return undefined;
    throw e;
  }
}

export class ApiSecretSource implements SecretSource {
  readonly #api: KubeApi;

  constructor(api: KubeApi) {
    this.#api = api;
  }

  async getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | undefined> {
    signal.throwIfAborted();
    return orUndefined<Secret>(() => this.#api.core.readNamespacedSecret({ name, namespace }));
  }
}

export class ApiConfigMapSource implements ConfigMapSource {
  readonly #api: KubeApi;

  constructor(api: KubeApi) {
    this.#api = api;
  }

  async getConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMap | undefined> {
    signal.throwIfAborted();
    return orUndefined<ConfigMap>(() => this.#api.core.readNamespacedConfigMap({ name, namespace }));
  }
}
