// The fuzzer itself: guidance by coverage reaches what blind mutation cannot, and a run is
// reproducible from its seed. (Its own file: a fresh process has few scripts, so coverage is quick.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz } from './engine.ts';
import { toyTarget } from './toy-target.ts';

test('the engine finds a defect that only coverage guidance can reach', async () => {
  const report = await fuzz(toyTarget, { runs: 20_000, seed: 3 });
  assert.equal(report.defects.length, 1, `not found in ${report.executions} inputs (${report.features} features)`);
  assert.equal(report.defects[0]!.input.subarray(0, 4).toString(), 'FUZZ');
});

test('the same seed gives the same inputs, another seed others', async () => {
  const inputs = async (seed: number) => {
    const seen: string[] = [];
    await fuzz({ ...toyTarget, run: (b) => void seen.push(b.toString('hex')) }, { runs: 300, seed });
    return seen;
  };
  const first = await inputs(11);
  assert.equal(first.length, 300);
  assert.deepEqual(await inputs(11), first);
  assert.notDeepEqual(await inputs(12), first);
});
