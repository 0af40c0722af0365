import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackOff, goDuration } from './crash-back-off.ts';

function clock(start = 1_000_000) {
  const c = { now: start, advance: (ms: number) => (c.now += ms) };
  return c;
}

test('10 s, doubling to 5 min', () => {
  const c = clock();
  const b = new BackOff(undefined, () => c.now);
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    b.next('k', c.now);
    delays.push(b.get('k'));
    c.advance(1000);
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

test('in back-off since the container finished, until the delay has passed', () => {
  const c = clock();
  const b = new BackOff(undefined, () => c.now);
  const finishedAt = c.now;
  assert.equal(b.isInBackOffSince('k', finishedAt), false, 'the first crash restarts at once');
  b.next('k', finishedAt);
  c.advance(2000);
  const secondFinish = c.now;
  assert.equal(b.isInBackOffSince('k', secondFinish), true);
  assert.equal(b.remaining('k', secondFinish), 10_000);
  c.advance(9_999);
  assert.equal(b.isInBackOffSince('k', secondFinish), true);
  c.advance(1);
  assert.equal(b.isInBackOffSince('k', secondFinish), false);
});

test('a container that ran more than 10 minutes starts again at 10 s', () => {
  const c = clock();
  const b = new BackOff(undefined, () => c.now);
  for (let i = 0; i < 5; i++) b.next('k', c.now);
  assert.equal(b.get('k'), 160_000);
  c.advance(10 * 60_000 + 1);
  const finishedAt = c.now;
  assert.equal(b.isInBackOffSince('k', finishedAt), false);
  b.next('k', finishedAt);
  assert.equal(b.get('k'), 10_000);
});

test('image pulls back off since the last failure', () => {
  const c = clock();
  const b = new BackOff(undefined, () => c.now);
  assert.equal(b.isInBackOffSinceUpdate('img', c.now), false);
  b.next('img', c.now);
  c.advance(5000);
  assert.equal(b.isInBackOffSinceUpdate('img', c.now), true);
  c.advance(5000);
  assert.equal(b.isInBackOffSinceUpdate('img', c.now), false);
});

test('gc and forget', () => {
  const c = clock();
  const b = new BackOff(undefined, () => c.now);
  b.next('pod-a/x', c.now);
  b.next('pod-b/x', c.now);
  b.forget('pod-a/');
  assert.equal(b.get('pod-a/x'), 0);
  c.advance(600_001);
  b.gc();
  assert.equal(b.get('pod-b/x'), 0);
});

test('Go duration text', () => {
  assert.equal(goDuration(10_000), '10s');
  assert.equal(goDuration(80_000), '1m20s');
  assert.equal(goDuration(300_000), '5m0s');
});
