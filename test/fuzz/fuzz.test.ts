// Each fuzz target for a bounded, seeded number of inputs (the same inputs every run), and every
// input that once found a defect replayed. Longer runs: node test/fuzz/run.ts (docs/FUZZING.md).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { type FuzzDefect, fuzz } from './engine.ts';
import { fuzzTargets } from './targets/index.ts';

/** Inputs per target in the suite; the applier writes real snapshots and gets fewer. */
const RUNS: Record<string, number> = { 'layer-apply': 150 };
const DEFAULT_RUNS = 1000;

function describe(d: FuzzDefect): string {
  const error = d.error instanceof Error ? (d.error.stack ?? d.error.message) : String(d.error);
  return `input ${d.input.toString('hex').slice(0, 400)} (sha256 ${d.sha256}):\n${error}`;
}

for (const target of fuzzTargets) {
  test(`fuzz ${target.name}: no defect in a seeded run`, async () => {
    const report = await fuzz(target, { runs: RUNS[target.name] ?? DEFAULT_RUNS, seed: 1 });
    assert.deepEqual(report.defects.map(describe), []);
    const seeds = (await target.seeds()).length;
    assert.ok(report.corpus.length > seeds, `coverage found nothing new beyond the ${seeds} seeds (${report.features} features)`);
  });

  test(`fuzz ${target.name}: earlier findings stay fixed`, async (t) => {
    const dir = path.join(import.meta.dirname, 'regressions', target.name);
    const files = await readdir(dir).catch(() => [] as string[]);
    if (files.length === 0) t.diagnostic('no findings recorded for this target yet');
    try {
      for (const f of files) await target.run(await readFile(path.join(dir, f)));
    } finally {
      await target.close?.();
    }
  });
}
