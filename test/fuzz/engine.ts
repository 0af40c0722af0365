// A small coverage-guided fuzzer. Coverage comes from V8 itself (the inspector's precise block
// coverage, which also sees ES modules and type-stripped .ts files), so berth's code needs no
// instrumentation. An input that reaches a block, or a hit-count bucket of a block, that no earlier
// input reached joins the corpus and is mutated further, as libFuzzer and AFL do.
//
// Jazzer.js was the first choice: its 4.x prebuilt addon needs glibc 2.38 (Debian 12 has 2.36) and
// 2.x downloads its addon from GitHub at install, which this project's installs cannot rely on.

import { createHash } from 'node:crypto';
import { Session } from 'node:inspector';
import { mutate, Rng } from './mutate.ts';

export interface FuzzTarget {
  readonly name: string;
  /** Coverage is counted only in scripts whose URL contains one of these (e.g. `/src/image/`). */
  readonly cover: readonly string[];
  /** Largest input the mutator makes. */
  readonly maxLength: number;
  /** Words the mutator inserts (magic strings, keywords of the format). */
  readonly dictionary?: readonly Buffer[];
  seeds(): Buffer[] | Promise<Buffer[]>;
  /**
   * Runs one input. Returns normally for any outcome the code under test may have (a parse, or a
   * typed refusal); throws only for a defect: an untyped exception, a broken invariant.
   */
  run(input: Buffer): Promise<void> | void;
  /** Called once after the last input. */
  close?(): Promise<void> | void;
}

export interface FuzzOptions {
  /** Inputs to run, seeds included. */
  readonly runs: number;
  /** Seed of the mutation PRNG: the same seed, target and code give the same inputs. */
  readonly seed?: number;
  /** A run of one input longer than this counts as a hang (a defect). */
  readonly inputTimeoutMs?: number;
  /** Stop at the first defect (the default) or collect them all. */
  readonly stopOnDefect?: boolean;
}

export interface FuzzDefect {
  readonly input: Buffer;
  readonly sha256: string;
  readonly error: unknown;
}

export interface FuzzReport {
  readonly executions: number;
  readonly corpus: Buffer[];
  /** Distinct (block, hit bucket) features seen. */
  readonly features: number;
  readonly defects: FuzzDefect[];
}

class BlockCoverage {
  readonly #session = new Session();
  readonly #cover: readonly string[];

  constructor(cover: readonly string[]) {
    this.#cover = cover;
    this.#session.connect();
    this.#post('Profiler.enable');
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  // A session on the main thread answers synchronously.
  #post(method: string, params?: object): unknown {
    let result: unknown;
    let failure: Error | null = null;
    this.#session.post(method, params, (err, res) => {
      failure = err;
      result = res;
    });
    if (failure) throw failure;
    return result;
  }

  /** Features hit since the last call (V8 resets the counters on each take). */
  take(): Set<string> {
    const { result } = this.#post('Profiler.takePreciseCoverage') as {
      result: { url: string; functions: { ranges: { startOffset: number; count: number }[] }[] }[];
    };
    const features = new Set<string>();
    for (const script of result) {
      if (!this.#cover.some((c) => script.url.includes(c))) continue;
      for (const fn of script.functions) {
        // V8 leaves out a block whose count equals its parent's and lists one not taken with
        // count 0: a zero-count block at a new offset means the input got one branch further.
        for (const r of fn.ranges) features.add(`${script.url}:${r.startOffset}:${bucket(r.count)}`);
      }
    }
    return features;
  }

  close(): void {
    this.#post('Profiler.stopPreciseCoverage');
    this.#post('Profiler.disable');
    this.#session.disconnect();
  }
}

/** AFL's hit-count buckets: a loop taken once more is a new feature only across a bucket edge. */
function bucket(count: number): number {
  if (count <= 3) return count;
  if (count <= 7) return 4;
  if (count <= 15) return 8;
  if (count <= 31) return 16;
  if (count <= 127) return 32;
  return 128;
}

async function runOne(target: FuzzTarget, input: Buffer, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => target.run(input)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`input did not finish within ${timeoutMs} ms (a hang)`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (e) {
    return e ?? new Error('target threw a nullish value');
  } finally {
    clearTimeout(timer);
  }
}

export async function fuzz(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed ?? 1);
  const timeoutMs = options.inputTimeoutMs ?? 10_000;
  const stopOnDefect = options.stopOnDefect ?? true;
  const coverage = new BlockCoverage(target.cover);
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const defects: FuzzDefect[] = [];
  let executions = 0;

  const execute = async (input: Buffer, always: boolean): Promise<boolean> => {
    coverage.take(); // drop what ran between inputs
    const error = await runOne(target, input, timeoutMs);
    executions++;
    const features = coverage.take();
    if (error !== undefined) {
      defects.push({ input, sha256: createHash('sha256').update(input).digest('hex'), error });
      return !stopOnDefect;
    }
    let fresh = always;
    for (const f of features) {
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    }
    if (fresh) corpus.push(input);
    return true;
  };

  try {
    for (const s of await target.seeds()) {
      if (executions >= options.runs) break;
      if (!(await execute(s, true))) return { executions, corpus, features: seen.size, defects };
    }
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    while (executions < options.runs) {
      const parent = corpus[rng.below(corpus.length)]!;
      const other = corpus[rng.below(corpus.length)]!;
      const child = mutate(parent, other, rng, target.maxLength, target.dictionary);
      if (!(await execute(child, false))) break;
    }
  } finally {
    coverage.close();
    await target.close?.();
  }
  return { executions, corpus, features: seen.size, defects };
}
