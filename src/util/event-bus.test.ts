import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { EventBus, SubscriberOverflowError } from './event-bus.ts';

async function take<T>(iterator: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

test('every subscriber gets every event published after it subscribed, in order', async () => {
  const bus = new EventBus<number>();
  bus.publish(0);
  const a = bus.subscribe(10)[Symbol.asyncIterator]();
  const b = bus.subscribe(10)[Symbol.asyncIterator]();
  for (const n of [1, 2, 3]) bus.publish(n);
  assert.deepEqual(await take(a, 3), [1, 2, 3]);
  assert.deepEqual(await take(b, 3), [1, 2, 3]);
});

test('a waiting reader wakes on publish; abort ends it cleanly and unsubscribes', async () => {
  const bus = new EventBus<string>();
  const controller = new AbortController();
  const it = bus.subscribe(4, controller.signal)[Symbol.asyncIterator]();
  const pending = it.next();
  bus.publish('x');
  assert.deepEqual(await pending, { value: 'x', done: false });
  const waiting = it.next();
  controller.abort();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  assert.equal(bus.subscriberCount, 0);
});

test('a subscriber that falls behind by more than its capacity is dropped with an error; others go on', async () => {
  const bus = new EventBus<number>();
  const slow = bus.subscribe(3)[Symbol.asyncIterator]();
  const fast = bus.subscribe(3)[Symbol.asyncIterator]();
  for (let n = 0; n < 3; n++) {
    bus.publish(n);
    assert.equal((await fast.next()).value, n);
  }
  bus.publish(3);
  assert.equal(bus.subscriberCount, 1, 'the slow one is gone at once');
  await assert.rejects(slow.next(), SubscriberOverflowError);
  assert.equal((await fast.next()).value, 3);
  assert.deepEqual(await slow.next(), { value: undefined, done: true });
});

test('close() and breaking out of a loop unsubscribe', async () => {
  const bus = new EventBus<number>();
  const sub = bus.subscribe(2);
  sub.close();
  assert.equal(bus.subscriberCount, 0);
  const loop = bus.subscribe(2);
  bus.publish(1);
  for await (const n of loop) {
    assert.equal(n, 1);
    break;
  }
  assert.equal(bus.subscriberCount, 0);
  assert.throws(
    () => bus.subscribe(0),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('events published before the first subscriber are kept for it (the newest, up to the limit), not for later ones', async () => {
  const bus = new EventBus<number>({ retainUntilFirstSubscriber: 2 });
  for (const n of [1, 2, 3]) bus.publish(n);
  const first = bus.subscribe(10)[Symbol.asyncIterator]();
  const second = bus.subscribe(10)[Symbol.asyncIterator]();
  bus.publish(4);
  assert.deepEqual(await take(first, 3), [2, 3, 4]);
  assert.deepEqual(await take(second, 1), [4]);
});

test('close() ends every subscription as done', async () => {
  const bus = new EventBus<number>();
  const a = bus.subscribe(2)[Symbol.asyncIterator]();
  const pending = a.next();
  bus.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
  assert.equal(bus.subscriberCount, 0);
});
