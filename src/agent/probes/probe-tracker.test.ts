import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProbeTracker } from './probe-tracker.ts';

test('initial results: readiness failed, liveness succeeded, startup unknown', () => {
  assert.equal(new ProbeTracker('readiness', {}).result, 'failure');
  assert.equal(new ProbeTracker('liveness', {}).result, 'success');
  assert.equal(new ProbeTracker('startup', {}).result, 'unknown');
});

test('the result flips only after the threshold in a row', () => {
  const t = new ProbeTracker('liveness', { failureThreshold: 3 });
  assert.equal(t.record('failure'), false);
  assert.equal(t.record('failure'), false);
  assert.equal(t.record('success'), false, 'a success breaks the run');
  assert.equal(t.record('failure'), false);
  assert.equal(t.record('failure'), false);
  assert.equal(t.record('failure'), true);
  assert.equal(t.result, 'failure');
});

test('readiness needs successThreshold successes', () => {
  const t = new ProbeTracker('readiness', { successThreshold: 2, failureThreshold: 1 });
  assert.equal(t.record('success'), false);
  assert.equal(t.record('success'), true);
  assert.equal(t.result, 'success');
  assert.equal(t.record('failure'), true);
  assert.equal(t.result, 'failure');
});
