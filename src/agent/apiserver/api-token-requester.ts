// TokenRequests through the API server: POST serviceaccounts/{name}/token in the pod's namespace.

import type { IssuedToken, TokenRequester, TokenRequestSpec } from '../service-account-tokens.ts';
import { apiError, apiErrorMessage, fromApi, type KubeApi, statusCode, toApi } from './kube-api.ts';

export class ApiTokenRequester implements TokenRequester {
  readonly #api: KubeApi;

  constructor(api: KubeApi) {
    this.#api = api;
  }

  async requestToken(namespace: string, serviceAccount: string, spec: TokenRequestSpec, signal: AbortSignal): Promise<IssuedToken> {
    signal.throwIfAborted();
    let answer: { spec?: { expirationSeconds?: number }; status?: { token?: string; expirationTimestamp?: string } };
    try {
      answer = fromApi(
        await this.#api.core.createNamespacedServiceAccountToken({
          name: serviceAccount,
          namespace,
          body: toApi({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec }),
        }),
      );
    } catch (e) {
      throw apiError(apiErrorMessage(e), statusCode(e), e);
    }
    return {
      token: answer.status?.token ?? '',
      expirationTimestamp: answer.status?.expirationTimestamp ?? '',
      ...(answer.spec?.expirationSeconds !== undefined ? { expirationSeconds: answer.spec.expirationSeconds } : {}),
    };
  }
}
