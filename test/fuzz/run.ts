// Longer fuzz runs than the test suite's: node test/fuzz/run.ts [TARGET…] [--runs N] [--seed S] [--out DIR]
// Inputs that find a defect are written to DIR (default test/fuzz/findings, not committed); copy
// each into test/fuzz/regressions/TARGET/ once it is fixed, so that the suite replays it.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fuzz } from './engine.ts';
import { fuzzTargets } from './targets/index.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    out: { type: 'string' },
  },
});
const out = values.out ?? path.join(import.meta.dirname, 'findings');
const chosen = positionals.length ? fuzzTargets.filter((t) => positionals.includes(t.name)) : fuzzTargets;
if (chosen.length === 0) {
  console.error(`unknown target; targets: ${fuzzTargets.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const target of chosen) {
  const started = Date.now();
  const report = await fuzz(target, { runs: Number(values.runs), seed: Number(values.seed), stopOnDefect: false });
  console.log(
    `${target.name}: ${report.executions} inputs, ${report.features} features, corpus ${report.corpus.length}, ${report.defects.length} defects, ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${values.seed})`,
  );
  for (const d of report.defects) {
    failed = true;
    await mkdir(path.join(out, target.name), { recursive: true });
    const file = path.join(out, target.name, `${d.sha256.slice(0, 16)}.bin`);
    await writeFile(file, d.input);
    console.log(`  ${file}: ${d.error instanceof Error ? d.error.stack?.split('\n').slice(0, 3).join(' | ') : String(d.error)}`);
  }
}
process.exit(failed ? 1 : 0);
