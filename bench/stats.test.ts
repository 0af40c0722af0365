import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { middle, percentile, round, runConcurrently, summarize } from './stats.ts';

describe('percentile (nearest rank)', () => {
  test('p50 and p99 of 1..100', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(samples, 50), 50);
    assert.equal(percentile(samples, 99), 99);
    assert.equal(percentile(samples, 100), 100);
    assert.equal(percentile(samples, 0), 1);
  });

  test('p99 of 50 samples is the largest; p50 of an even count is the lower middle', () => {
    const samples = Array.from({ length: 50 }, (_, i) => i + 1);
    assert.equal(percentile(samples, 99), 50);
    assert.equal(percentile(samples, 50), 25);
  });

  test('refuses no samples and p outside 0..100', () => {
    assert.throws(() => percentile([], 50));
    assert.throws(() => percentile([1], 101));
    assert.throws(() => percentile([1], Number.NaN));
  });

  test('does not reorder its input', () => {
    const samples = [3, 1, 2];
    percentile(samples, 50);
    assert.deepEqual(samples, [3, 1, 2]);
  });
});

test('middle: the median, the mean of the two middle values for an even count', () => {
  assert.equal(middle([3, 1, 2]), 2);
  assert.equal(middle([4, 1, 3, 2]), 2.5);
  assert.throws(() => middle([]));
});

test('round and summarize', () => {
  assert.equal(round(1.23456, 2), 1.23);
  assert.equal(round(1234.5, 0), 1235);
  assert.deepEqual(summarize([1, 2, 3, 4]), { n: 4, p50: 2, p90: 4, p99: 4, min: 1, max: 4, mean: 2.5 });
});

describe('runConcurrently', () => {
  test('keeps job order and the concurrency bound', async () => {
    let running = 0;
    let peak = 0;
    const results = await runConcurrently(20, 3, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
      running--;
      return i * 2;
    });
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i * 2),
    );
    assert.equal(peak, 3);
  });

  test('stops starting jobs after a failure and rejects with it', async () => {
    const started: number[] = [];
    await assert.rejects(
      runConcurrently(50, 2, async (i) => {
        started.push(i);
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (i === 3) throw new Error('job 3 failed');
        return i;
      }),
      /job 3 failed/,
    );
    assert.ok(started.length < 50, `started ${started.length}`);
  });
});
