import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC_NAMES } from './metrics.ts';
import { goalResults, mergeRounds, metricTable, ratioOf, renderTable } from './report.ts';
import type { RuntimeRun } from './workloads.ts';

function runWith(metrics: RuntimeRun['metrics'], notes: string[] = []): RuntimeRun {
  return { metrics, notes, details: {} };
}

test('the results have every metric of issue 5 with berth, containerd and their ratio', () => {
  const table = metricTable({
    containerd: runWith({ pod_start_p50_ms: 200, pull_200mb_s: 4 }),
    berth: runWith({ pod_start_p50_ms: 90, pull_200mb_s: null }),
  });
  assert.deepEqual(Object.keys(table), [...METRIC_NAMES]);
  assert.deepEqual(table.pod_start_p50_ms, { berth: 90, containerd: 200, ratio: 0.45 });
  assert.deepEqual(table.pull_200mb_s, { berth: null, containerd: 4, ratio: null });
  assert.deepEqual(table.exec_sync_p50_ms, { berth: null, containerd: null, ratio: null });
  assert.equal(ratioOf(1, 0), null);
});

test('goals: met, missed, and unknown without a figure', () => {
  const goals = goalResults(
    metricTable({
      containerd: runWith({ pod_start_p50_ms: 200, pods_per_second_c8: 10, overhead_rss_per_pod_kb: 14000, pull_200mb_s: 4 }),
      berth: runWith({ pod_start_p50_ms: 90, pods_per_second_c8: 15, overhead_rss_per_pod_kb: 900 }),
    }),
  );
  assert.equal(goals.pod_start_p50_ms?.met, true);
  assert.equal(goals.pods_per_second_c8?.met, false);
  assert.equal(goals.overhead_rss_per_pod_kb?.met, true);
  assert.equal(goals.pull_200mb_s?.met, null);
  assert.equal(goals.daemon_idle_rss_kb, undefined);
  assert.match(
    renderTable(metricTable({ containerd: runWith({ pod_start_p50_ms: 200 }) }), goals),
    /\| pod_start_p50_ms +\| ms +\| 200 +\| — /,
  );
});

test('rounds merge into medians; a round without a figure does not count', () => {
  const merged = mergeRounds([
    runWith({ pod_start_p50_ms: 100, pull_200mb_s: null }, ['a']),
    runWith({ pod_start_p50_ms: 300, pull_200mb_s: 5 }),
    runWith({ pod_start_p50_ms: 200, pull_200mb_s: null }, ['b']),
  ]);
  assert.equal(merged.metrics.pod_start_p50_ms, 200);
  assert.equal(merged.metrics.pull_200mb_s, 5);
  assert.equal(merged.metrics.exec_sync_p50_ms, null);
  assert.deepEqual(merged.notes, ['round 1: a', 'round 3: b']);
  assert.equal((merged.details.rounds as unknown[]).length, 3);
  assert.equal(mergeRounds([runWith({ pods_per_second_c8: 4 }), runWith({ pods_per_second_c8: 7 })]).metrics.pods_per_second_c8, 5.5);
});
