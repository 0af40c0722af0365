import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlowControl } from './spdy-flow-control.ts';
import { DEFAULT_WINDOW } from './spdy-frames.ts';

function flow(receiveWindow = DEFAULT_WINDOW) {
  const updates: [number, number][] = [];
  const fc = new FlowControl({ receiveWindow, sendWindowUpdate: (id, delta) => updates.push([id, delta]) });
  return { fc, updates };
}

test('until the peer shows flow control, writers take all the room they ask for', () => {
  const { fc } = flow();
  fc.addStream(1);
  assert.equal(fc.take(1, 10 * DEFAULT_WINDOW), 10 * DEFAULT_WINDOW);
});

test('enforced, a stream sends within its window and the session window, and waits for WINDOW_UPDATE', () => {
  const { fc } = flow();
  fc.addStream(1);
  fc.addStream(3);
  fc.onInitialWindow(1000);
  assert.equal(fc.take(1, 600), 600);
  assert.equal(fc.take(1, 600), 400, 'what is left of the stream window');
  assert.equal(fc.take(1, 1), 0);
  let woken = 0;
  fc.waitForRoom(() => woken++);
  fc.onWindowUpdate(1, 100);
  assert.equal(woken, 1);
  assert.equal(fc.take(1, 600), 100);
  // The session window (64 KiB, less the 1100 bytes taken) bounds every stream together.
  fc.onWindowUpdate(3, 10 * DEFAULT_WINDOW);
  assert.equal(fc.take(3, 10 * DEFAULT_WINDOW), DEFAULT_WINDOW - 1100);
  assert.equal(fc.take(3, 1), 0);
  fc.onWindowUpdate(0, 50);
  assert.equal(fc.take(3, 100), 50);
});

test('a new initial window moves open streams by the difference; new streams start at it', () => {
  const { fc } = flow();
  fc.addStream(1);
  fc.onWindowUpdate(1, 0); // the peer shows flow control
  assert.equal(fc.take(1, 1000), 1000);
  fc.onInitialWindow(16 * 1024);
  assert.equal(fc.take(1, DEFAULT_WINDOW), 16 * 1024 - 1000);
  fc.addStream(3);
  assert.equal(fc.take(3, DEFAULT_WINDOW), 16 * 1024);
});

test('consumed data is acknowledged once half a window is due, the stream only while the peer may send', () => {
  const { fc, updates } = flow(16 * 1024);
  fc.addStream(1);
  fc.consumed(1, 8 * 1024 - 1, true);
  assert.deepEqual(updates, []);
  fc.consumed(1, 1, true);
  assert.deepEqual(updates, [[1, 8 * 1024]]);
  updates.length = 0;
  fc.consumed(1, 8 * 1024, false);
  assert.deepEqual(updates, [], 'no stream update after the peer finished');
});

test('the session window is acknowledged as data arrives, read or not, on any stream', () => {
  const { fc, updates } = flow(16 * 1024);
  fc.addStream(1);
  assert.equal(fc.received(1, 16 * 1024), true);
  assert.equal(fc.received(7, 16 * 1024 - 1), true, 'a stream already gone');
  assert.deepEqual(updates, []);
  fc.received(7, 1);
  assert.deepEqual(updates, [[0, 32 * 1024]]);
});

test('a stream opened once the peer showed flow control may not be sent past its window', () => {
  const { fc } = flow(16 * 1024);
  fc.addStream(1);
  fc.onWindowUpdate(0, 1); // the peer shows flow control
  fc.addStream(3);
  assert.equal(fc.controlled(1), false, 'opened before: held back by pausing the connection instead');
  assert.equal(fc.controlled(3), true);
  assert.equal(fc.received(1, 100 * 1024), true);
  assert.equal(fc.received(3, 16 * 1024), true, 'the whole window');
  fc.consumed(3, 8 * 1024, true); // credits 8 KiB
  assert.equal(fc.received(3, 8 * 1024), true);
  assert.equal(fc.received(3, 1), false, 'one byte past the window');
});

test('closing wakes every waiting writer', () => {
  const { fc } = flow();
  fc.addStream(1);
  fc.onInitialWindow(0);
  let woken = 0;
  fc.waitForRoom(() => woken++);
  fc.waitForRoom(() => woken++);
  fc.close();
  assert.equal(woken, 2);
});
