// The figures docs/BENCHMARKS.md quotes come from result files kept in the repository: each file
// it cites exists, and a kept result (bench/results/<date>-<commit>.json) is of the commit its name
// gives, a commit of this repository, run from a tree without uncommitted changes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseKeptResultName } from './revision.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'BENCHMARKS.md'), 'utf8');

interface KeptResult {
  revision?: { commit?: string | null; committed?: boolean; uncommitted?: string[]; changedDuringRun?: boolean };
  method?: { quick?: boolean; startedAt?: string };
}

function checkKept(file: string): void {
  const name = parseKeptResultName(file);
  assert.ok(name, `${file} is named <date>-<commit>.json`);
  const result = JSON.parse(readFileSync(path.join(RESULTS_DIR, file), 'utf8')) as KeptResult;
  assert.equal(result.revision?.committed, true, `${file}: run from a committed tree`);
  assert.deepEqual(result.revision?.uncommitted, [], `${file}: no uncommitted changes`);
  assert.equal(result.revision?.changedDuringRun, false, `${file}: one commit from start to end`);
  assert.ok(result.revision?.commit?.startsWith(name.commit), `${file}: the commit in the file is the one in its name`);
  assert.equal(result.method?.quick, false, `${file}: a full run`);
  assert.equal(result.method?.startedAt?.slice(0, 10), name.date, `${file}: the date in its name is the run's`);
  // Throws when the commit is not in this repository's history.
  execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${result.revision?.commit}^{commit}`]);
}

test('every result file the benchmark page cites is in the repository', () => {
  const cited = [...new Set([...DOC.matchAll(/bench\/results\/([\w.-]+\.json)/g)].map((m) => m[1]!))];
  assert.ok(cited.length > 0, 'the page names the files its figures come from');
  for (const file of cited) {
    if (file === 'quick.json' || file === 'uncommitted.json') continue; // named as outputs, never quoted
    assert.ok(existsSync(path.join(RESULTS_DIR, file)), `bench/results/${file} is cited and kept`);
  }
});

test('every kept result is of a commit of this repository, from a committed tree', () => {
  const kept = readdirSync(RESULTS_DIR).filter((f) => parseKeptResultName(f) !== undefined);
  for (const file of kept) checkKept(file);
  for (const file of kept) assert.ok(DOC.includes(`bench/results/${file}`), `${file} is kept: the page cites it`);
});
