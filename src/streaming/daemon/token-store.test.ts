import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { TokenStore } from './token-store.ts';

describe('TokenStore', () => {
  test('a token is URL-safe, unique and works exactly once', () => {
    const store = new TokenStore<string>({ ttlMs: 60_000 });
    const a = store.insert('exec a');
    const b = store.insert('exec b');
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, b);
    assert.deepEqual(store.consume(a), { ok: true, value: 'exec a' });
    assert.deepEqual(store.consume(a), { ok: false, reason: 'unknown' });
    assert.deepEqual(store.consume('never-issued'), { ok: false, reason: 'unknown' });
    assert.equal(store.size, 1);
  });

  test('a token presented after its TTL is expired, and gone afterwards', () => {
    let now = 1_000;
    const store = new TokenStore<number>({ ttlMs: 60_000, now: () => now });
    const t = store.insert(1);
    now += 60_000;
    assert.deepEqual(store.consume(store.insert(2)), { ok: true, value: 2 });
    now += 1;
    assert.deepEqual(store.consume(t), { ok: false, reason: 'expired' });
    assert.deepEqual(store.consume(t), { ok: false, reason: 'unknown' });
  });

  test('unused expired tokens are collected and do not count against the limit', () => {
    let now = 0;
    const store = new TokenStore<number>({ ttlMs: 1000, maxInFlight: 2, now: () => now });
    store.insert(1);
    store.insert(2);
    assert.throws(
      () => store.insert(3),
      (e) => isBerthError(e, 'resource-exhausted'),
    );
    now = 1001;
    assert.equal(store.size, 0);
    store.insert(3);
    assert.equal(store.size, 1);
  });

  test('a TTL must be positive', () => {
    assert.throws(() => new TokenStore({ ttlMs: 0 }), { kind: 'invalid-argument', code: 'bad-streaming-config' });
  });
});
