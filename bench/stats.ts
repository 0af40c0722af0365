// Small statistics for latency samples: nearest-rank percentiles, rounding, timing.
import { performance } from 'node:perf_hooks';

/**
 * The nearest-rank percentile of `samples` (p in 0..100): the smallest sample such that at least
 * p % of the samples are at or below it. No interpolation, so p99 of 50 samples is the largest.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be within 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

/** The middle value; for an even count, the mean of the two middle values (for figures merged over rounds). */
export function middle(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('middle of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[half] as number) : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2;
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('mean of no samples');
  return samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

/** Rounds to `digits` decimals (a number, not a string, for the JSON). */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A summary that the JSON keeps beside the headline figures. */
export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(samples: readonly number[], digits = 2): LatencySummary {
  return {
    n: samples.length,
    p50: round(percentile(samples, 50), digits),
    p90: round(percentile(samples, 90), digits),
    p99: round(percentile(samples, 99), digits),
    min: round(Math.min(...samples), digits),
    max: round(Math.max(...samples), digits),
    mean: round(mean(samples), digits),
  };
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}

/** Runs `body` and returns its result with the wall time it took in ms. */
export async function timed<T>(body: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = nowMs();
  const value = await body();
  return { value, ms: nowMs() - start };
}

/** Runs `count` jobs with at most `concurrency` at once; results in job order. Stops at the first failure. */
export async function runConcurrently<T>(count: number, concurrency: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const index = next++;
      try {
        results[index] = await job(index);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, count) }, () => worker());
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
  return results;
}
