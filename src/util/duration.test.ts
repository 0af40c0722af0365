import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './duration.ts';

test('parses Go durations', () => {
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0'), 0);
});

test('rejects what is not a duration', () => {
  for (const bad of ['', '10', 'abc', '1x', '5m foo', '-1s']) assert.equal(parseDuration(bad), undefined, bad);
});
