import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from './k8s-types.ts';
import { type IssuedToken, requiresRefresh, ServiceAccountTokenManager, type TokenRequestSpec } from './service-account-tokens.ts';

const signal = new AbortController().signal;
const pod = (uid: string, serviceAccountName?: string): Pod => ({
  metadata: { name: `pod-${uid}`, namespace: 'shop', uid },
  spec: { containers: [], ...(serviceAccountName ? { serviceAccountName } : {}) },
});

/** Issues `tok-N` tokens valid for the requested lifetime from the fake clock; fails while `failing`. */
function issuer(clock: { now: number }) {
  const requests: { namespace: string; account: string; spec: TokenRequestSpec }[] = [];
  const state = { failing: false };
  return {
    requests,
    state,
    async requestToken(namespace: string, account: string, spec: TokenRequestSpec): Promise<IssuedToken> {
      if (state.failing) throw new Error('serviceaccounts "default" not found');
      requests.push({ namespace, account, spec });
      return { token: `tok-${requests.length}`, expirationTimestamp: new Date(clock.now + spec.expirationSeconds * 1000).toISOString() };
    },
  };
}

test('the request: bound to the pod, its service account (default when unset), audience, at least 600 s', async () => {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const api = issuer(clock);
  const tokens = new ServiceAccountTokenManager(api, { now: () => clock.now, jitterMs: () => 0 });
  assert.equal(await tokens.getToken(pod('u1'), { expirationSeconds: 3607 }, signal), 'tok-1');
  assert.deepEqual(api.requests[0], {
    namespace: 'shop',
    account: 'default',
    spec: { expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'pod-u1', uid: 'u1' } },
  });
  await tokens.getToken(pod('u2', 'builder'), { audience: 'vault', expirationSeconds: 60 }, signal);
  assert.equal(api.requests[1]!.account, 'builder');
  assert.deepEqual(api.requests[1]!.spec.audiences, ['vault']);
  assert.equal(api.requests[1]!.spec.expirationSeconds, 600);
});

test('cached per pod and request; a new token once 80 % of the lifetime passed', async () => {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const api = issuer(clock);
  const tokens = new ServiceAccountTokenManager(api, { now: () => clock.now, jitterMs: () => 0 });
  const request = { expirationSeconds: 1000 };
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-1');
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-1');
  assert.equal(await tokens.getToken(pod('u1'), { audience: 'other', expirationSeconds: 1000 }, signal), 'tok-2');
  assert.equal(await tokens.getToken(pod('u2'), request, signal), 'tok-3');
  clock.now += 800_000;
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-1', 'exactly 80 %: still the old one');
  clock.now += 1000;
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-4');
  assert.equal(tokens.size, 3, 'a refresh replaces the old token');
  tokens.forgetPod('u1');
  assert.equal(tokens.size, 1);
});

test('refresh timing: 80 % of the TTL, 24 h at most, earlier by the jitter', () => {
  const issued = Date.parse('2026-01-01T00:00:00Z');
  const hour = { token: 't', expirationSeconds: 3600, expiresAt: issued + 3600_000 };
  assert.equal(requiresRefresh(hour, issued + 2880_000, 0), false);
  assert.equal(requiresRefresh(hour, issued + 2880_001, 0), true);
  assert.equal(requiresRefresh(hour, issued + 2875_000, 10_000), true);
  const week = { token: 't', expirationSeconds: 7 * 86400, expiresAt: issued + 7 * 86400_000 };
  assert.equal(requiresRefresh(week, issued + 86400_000, 0), false);
  assert.equal(requiresRefresh(week, issued + 86400_001, 0), true);
});

test('a failed refresh keeps the old token until it expires; without one it fails', async () => {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const api = issuer(clock);
  const tokens = new ServiceAccountTokenManager(api, { now: () => clock.now, jitterMs: () => 0 });
  api.state.failing = true;
  await assert.rejects(tokens.getToken(pod('u1'), { expirationSeconds: 1000 }, signal), {
    message: 'failed to fetch token: serviceaccounts "default" not found',
    code: 'token-fetch-failed',
    kind: 'unavailable',
  });
  api.state.failing = false;
  assert.equal(await tokens.getToken(pod('u1'), { expirationSeconds: 1000 }, signal), 'tok-1');
  api.state.failing = true;
  clock.now += 900_000;
  assert.equal(await tokens.getToken(pod('u1'), { expirationSeconds: 1000 }, signal), 'tok-1');
  clock.now += 100_000;
  await assert.rejects(tokens.getToken(pod('u1'), { expirationSeconds: 1000 }, signal), /failed to fetch token/);
  assert.equal(tokens.size, 0, 'the expired token is dropped');
});

test('the lifetime the API server granted counts, not the one asked for', async () => {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  let n = 0;
  const tokens = new ServiceAccountTokenManager(
    {
      async requestToken() {
        n++;
        // Capped to an hour, as with --service-account-max-token-expiration.
        return { token: `tok-${n}`, expirationTimestamp: new Date(clock.now + 3600_000).toISOString(), expirationSeconds: 3600 };
      },
    },
    { now: () => clock.now, jitterMs: () => 0 },
  );
  const request = { expirationSeconds: 48 * 3600 };
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-1');
  clock.now += 60_000;
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-1', 'not asked again at every sync');
  clock.now += 2820_001;
  assert.equal(await tokens.getToken(pod('u1'), request, signal), 'tok-2');
});

test('a static pod gets no token: the API server knows only its mirror pod', async () => {
  const clock = { now: 0 };
  const api = issuer(clock);
  const tokens = new ServiceAccountTokenManager(api, { now: () => clock.now, jitterMs: () => 0 });
  const staticPod = pod('s1');
  staticPod.metadata.annotations = { 'kubernetes.io/config.source': 'file' };
  await assert.rejects(tokens.getToken(staticPod, { expirationSeconds: 3600 }, signal), {
    message: 'failed to fetch token: a static pod cannot have service account tokens (the API server knows only its mirror pod)',
    code: 'token-static-pod',
    kind: 'failed-precondition',
  });
  assert.equal(api.requests.length, 0);
});
