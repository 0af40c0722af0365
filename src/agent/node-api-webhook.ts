// The kubelet's webhook mode, in API-server mode: a bearer token is checked with a TokenReview
// (authentication.k8s.io/v1, --authentication-token-webhook) and every request is authorized with a
// SubjectAccessReview (authorization.k8s.io/v1, --authorization-mode=Webhook) on the attributes of
// node-api-auth.ts (verb from the method, resource nodes, subresource from the path, the node's
// name). Answers are cached as the kubelet caches them: tokens 2 minutes; allowed 5 minutes,
// denied 30 seconds. Failed calls are not cached.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { internal, unauthenticated } from '../errors/errors.ts';
import { apiErrorMessage } from './apiserver/kube-api.ts';
import type { NodeApiAuthenticator, NodeApiAuthorizer, NodeApiDecision, NodeApiUser } from './node-api-auth.ts';

/** The kubelet's defaults (--authentication-token-webhook-cache-ttl, --authorization-webhook-cache-*-ttl). */
export const TOKEN_CACHE_TTL_MS = 120_000;
export const AUTHORIZED_CACHE_TTL_MS = 300_000;
export const UNAUTHORIZED_CACHE_TTL_MS = 30_000;

/** Entries kept at most; the oldest go first. */
const CACHE_LIMIT = 4096;

class TtlCache<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>();

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires > Date.now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: T, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= CACHE_LIMIT) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expires: Date.now() + ttlMs });
  }
}

/** The token of `Authorization: Bearer …`, as the API server's bearer-token authenticator reads it. */
function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * Bearer tokens checked with TokenReview. A request without a token is not this authenticator's
 * (undefined); a token the API server does not accept is refused outright (unauthenticated), so
 * that no later authenticator (anonymous) lets it in, as the API server's union fails on it.
 */
export function tokenReviewAuthenticator(
  config: KubeConfig,
  options: { cacheTtlMs?: number; audiences?: string[] } = {},
): NodeApiAuthenticator {
  const api = config.makeApiClient(AuthenticationV1Api);
  const cache = new TtlCache<NodeApiUser | null>();
  const ttl = options.cacheTtlMs ?? TOKEN_CACHE_TTL_MS;
  return {
    async authenticate(req) {
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) return undefined;
      const key = createHash('sha256').update(token).digest('hex');
      let user = cache.get(key);
      if (user === undefined) {
        let status: { authenticated?: boolean; user?: { username?: string; groups?: string[] }; error?: string } | undefined;
        try {
          const review = await api.createTokenReview({
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              spec: { token, ...(options.audiences ? { audiences: options.audiences } : {}) },
            },
          });
          status = review.status;
        } catch (e) {
          throw unauthenticated('token-review-failed', `the TokenReview failed: ${apiErrorMessage(e)}`, { cause: e });
        }
        user = status?.authenticated && status.user?.username ? { name: status.user.username, groups: status.user.groups ?? [] } : null;
        cache.set(key, user, ttl);
      }
      if (user === null) throw unauthenticated('invalid-bearer-token', 'invalid bearer token');
      return user;
    },
  };
}

/** Decisions asked of the API server with SubjectAccessReview, on the kubelet's attributes. */
export function subjectAccessReviewAuthorizer(
  config: KubeConfig,
  options: { authorizedTtlMs?: number; unauthorizedTtlMs?: number } = {},
): NodeApiAuthorizer {
  const api = config.makeApiClient(AuthorizationV1Api);
  const cache = new TtlCache<NodeApiDecision>();
  return {
    async authorize(a) {
      const spec = {
        user: a.user.name,
        groups: a.user.groups,
        resourceAttributes: { verb: a.verb, group: '', version: 'v1', resource: a.resource, subresource: a.subresource, name: a.name },
      };
      const key = JSON.stringify(spec);
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      let status: { allowed?: boolean; reason?: string; evaluationError?: string } | undefined;
      try {
        status = (
          await api.createSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } })
        ).status;
      } catch (e) {
        throw internal('subject-access-review-failed', `the SubjectAccessReview failed: ${apiErrorMessage(e)}`, { cause: e });
      }
      const decision: NodeApiDecision = { allowed: status?.allowed === true, ...(status?.reason ? { reason: status.reason } : {}) };
      cache.set(
        key,
        decision,
        decision.allowed ? (options.authorizedTtlMs ?? AUTHORIZED_CACHE_TTL_MS) : (options.unauthorizedTtlMs ?? UNAUTHORIZED_CACHE_TTL_MS),
      );
      return decision;
    },
  };
}
