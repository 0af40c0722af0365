// Secrets read from the API server, for the provider (image pull secrets).
import type { Secret } from '../k8s-types.ts';
import type { SecretSource } from '../provider.ts';
import { fromApi, type KubeApi, statusCode } from './kube-api.ts';

export class ApiSecretSource implements SecretSource {
  readonly #api: KubeApi;

  constructor(api: KubeApi) {
    this.#api = api;
  }

  async getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | undefined> {
    signal.throwIfAborted();
    try {
      return fromApi<Secret>(await this.#api.core.readNamespacedSecret({ name, namespace }));
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
  }
}
