// The kubelet's token manager: service account tokens bound to their pod, requested through the
// TokenRequest API and kept per pod and request. A token is requested again once 80 % of its
// lifetime passed or it is older than 24 h (minus a jitter of up to 10 s, so that many pods do
// not ask at once); if that fails, the old token serves until it expires.
import { failedPrecondition, internal, unavailable } from '../errors/errors.ts';
import { type Pod, podUid } from './k8s-types.ts';
import type { ServiceAccountTokenRequest, ServiceAccountTokenSource } from './provider.ts';
import { CONFIG_SOURCE_ANNOTATION } from './static-pods/static-pod-manifest.ts';

/** A TokenRequest's spec, as the API takes it. */
export interface TokenRequestSpec {
  audiences?: string[];
  expirationSeconds: number;
  boundObjectRef: { kind: 'Pod'; apiVersion: 'v1'; name: string; uid: string };
}

export interface IssuedToken {
  token: string;
  /** status.expirationTimestamp, RFC 3339. */
  expirationTimestamp: string;
  /** The lifetime granted (the answer's spec.expirationSeconds): the API server may cap the one asked for. */
  expirationSeconds?: number;
}

/** Posts TokenRequests (serviceaccounts/{name}/token). */
export interface TokenRequester {
  requestToken(namespace: string, serviceAccount: string, spec: TokenRequestSpec, signal: AbortSignal): Promise<IssuedToken>;
}

/** The shortest lifetime the API server grants. */
export const MIN_EXPIRATION_SECONDS = 600;
const MAX_TTL_MS = 24 * 3600_000;
const MAX_JITTER_MS = 10_000;

interface CachedToken {
  token: string;
  expiresAt: number;
  expirationSeconds: number;
}

/** Whether a token issued for `expirationSeconds` and expiring at `expiresAt` is due for a new one at `now`. */
export function requiresRefresh(cached: CachedToken, now: number, jitterMs: number): boolean {
  const issuedAt = cached.expiresAt - cached.expirationSeconds * 1000;
  if (now > issuedAt + MAX_TTL_MS - jitterMs) return true;
  return now > cached.expiresAt - cached.expirationSeconds * 200 - jitterMs;
}

export class ServiceAccountTokenManager implements ServiceAccountTokenSource {
  readonly #requester: TokenRequester;
  readonly #now: () => number;
  readonly #jitter: () => number;
  /** By pod UID, then by request. */
  readonly #cache = new Map<string, Map<string, CachedToken>>();

  constructor(requester: TokenRequester, options: { now?: () => number; jitterMs?: () => number } = {}) {
    this.#requester = requester;
    this.#now = options.now ?? Date.now;
    this.#jitter = options.jitterMs ?? (() => Math.floor(Math.random() * (MAX_JITTER_MS / 1000)) * 1000);
  }

  async getToken(pod: Pod, request: ServiceAccountTokenRequest, signal: AbortSignal): Promise<string> {
    // A token is bound to a pod the API server has; of a static pod it has only the mirror pod.
    if (pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION] === 'file') {
      throw failedPrecondition(
        'token-static-pod',
        'failed to fetch token: a static pod cannot have service account tokens (the API server knows only its mirror pod)',
      );
    }
    const uid = podUid(pod);
    const namespace = pod.metadata.namespace ?? 'default';
    const serviceAccount = pod.spec.serviceAccountName || 'default';
    const expirationSeconds = Math.max(request.expirationSeconds, MIN_EXPIRATION_SECONDS);
    const key = JSON.stringify([serviceAccount, request.audience ?? '', expirationSeconds]);
    this.#dropExpired();
    const cached = this.#cache.get(uid)?.get(key);
    const now = this.#now();
    if (cached !== undefined && !requiresRefresh(cached, now, this.#jitter())) return cached.token;
    const spec: TokenRequestSpec = {
      ...(request.audience ? { audiences: [request.audience] } : {}),
      expirationSeconds,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name ?? '', uid },
    };
    let issued: IssuedToken;
    try {
      issued = await this.#requester.requestToken(namespace, serviceAccount, spec, signal);
    } catch (e) {
      const message = (e as Error).message;
      if (signal.aborted || cached === undefined) {
        throw unavailable('token-fetch-failed', `failed to fetch token: ${message}`, { cause: e });
      }
      if (cached.expiresAt <= now) throw unavailable('token-expired', `token expired and refresh failed: ${message}`, { cause: e });
      return cached.token;
    }
    const expiresAt = Date.parse(issued.expirationTimestamp);
    if (!issued.token || Number.isNaN(expiresAt)) {
      throw internal('token-answer-invalid', 'failed to fetch token: the API server sent no token or expiration');
    }
    const forPod = this.#cache.get(uid) ?? new Map<string, CachedToken>();
    this.#cache.set(uid, forPod);
    forPod.set(key, { token: issued.token, expiresAt, expirationSeconds: issued.expirationSeconds ?? expirationSeconds });
    return issued.token;
  }

  forgetPod(uid: string): void {
    this.#cache.delete(uid);
  }

  /** How many tokens are kept (for tests). */
  get size(): number {
    let n = 0;
    for (const forPod of this.#cache.values()) n += forPod.size;
    return n;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [uid, forPod] of this.#cache) {
      for (const [key, token] of forPod) if (token.expiresAt <= now) forPod.delete(key);
      if (forPod.size === 0) this.#cache.delete(uid);
    }
  }
}
