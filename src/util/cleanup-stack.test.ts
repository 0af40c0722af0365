import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCleanup } from './cleanup-stack.ts';
import { KeyedLock } from './keyed-lock.ts';

test('a failure unwinds the steps in reverse, and rethrows', async () => {
  const order: string[] = [];
  await assert.rejects(
    withCleanup(async (stack) => {
      stack.push('a', () => order.push('a'));
      stack.push('b', () => {
        order.push('b');
        throw new Error('undo of b fails');
      });
      stack.push('c', () => order.push('c'));
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(order, ['c', 'b', 'a']);
});

test('success releases the steps', async () => {
  const order: string[] = [];
  const v = await withCleanup(async (stack) => {
    stack.push('a', () => order.push('a'));
    return 42;
  });
  assert.equal(v, 42);
  assert.deepEqual(order, []);
});

test('KeyedLock serialises one key and not others', async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const step = (tag: string, wait?: Promise<void>) => async () => {
    log.push(`${tag}+`);
    await wait;
    log.push(`${tag}-`);
  };
  const a = lock.run('k', step('a', held));
  const b = lock.run('k', step('b'));
  // While a holds key k: c (another key) runs to its end, b has not begun.
  await lock.run('other', step('c'));
  assert.deepEqual(log, ['a+', 'c+', 'c-']);
  release();
  await Promise.all([a, b]);
  assert.deepEqual(log, ['a+', 'c+', 'c-', 'a-', 'b+', 'b-']);
});

test('SharedRun: one caller giving up does not cancel the others; the last one does', async () => {
  const { SharedRun } = await import('./keyed-lock.ts');
  const shared = new SharedRun<string>();
  let runs = 0;
  let innerAborted = false;
  const body = (signal: AbortSignal) => {
    runs++;
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => resolve('done'), 50);
      signal.addEventListener('abort', () => {
        innerAborted = true;
        clearTimeout(t);
        reject(signal.reason);
      });
    });
  };
  const impatient = new AbortController();
  const a = shared.run('k', impatient.signal, body);
  const b = shared.run('k', undefined, body);
  impatient.abort(new Error('gave up'));
  await assert.rejects(a, /gave up/);
  assert.equal(await b, 'done');
  assert.equal(runs, 1);
  assert.equal(innerAborted, false);

  const only = new AbortController();
  const c = shared.run('k2', only.signal, body);
  only.abort(new Error('bye'));
  await assert.rejects(c, /bye/);
  // The run itself is told to stop (the test's timeout bounds the wait).
  while (!innerAborted) await new Promise((r) => setTimeout(r, 1));
});
