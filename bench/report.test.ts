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
  assert.deepEqual(table.pod_start_p50_ms, { berth: 90, containerd: 200, ratio: 0.45, ratios: { berth: 0.45 } });
  assert.deepEqual(table.pull_200mb_s, { berth: null, containerd: 4, ratio: null, ratios: { berth: null } });
  assert.deepEqual(table.exec_sync_p50_ms, { berth: null, containerd: null, ratio: null, ratios: { berth: null } });
  assert.equal(ratioOf(1, 0), null);
});

test('any number of runtimes: each beside containerd with its ratio; berth and containerd keep their keys when not run', () => {
  const table = metricTable(
    {
      'cri-dockerd': runWith({ pod_start_p50_ms: 400, pull_200mb_s: null }),
      dockershim: runWith({ pod_start_p50_ms: 300 }),
      containerd: runWith({ pod_start_p50_ms: 200 }),
    },
    ['dockershim', 'cri-dockerd', 'containerd'],
  );
  assert.deepEqual(table.pod_start_p50_ms, {
    berth: null,
    containerd: 200,
    dockershim: 300,
    'cri-dockerd': 400,
    ratio: null,
    ratios: { dockershim: 1.5, 'cri-dockerd': 2 },
  });
  assert.deepEqual(table.pull_200mb_s.ratios, { dockershim: null, 'cri-dockerd': null });
  const rendered = renderTable(table, goalResults(table), ['containerd', 'dockershim', 'cri-dockerd']).split('\n');
  assert.match(
    rendered[0] ?? '',
    /\| metric +\| unit +\| containerd +\| dockershim +\| dockershim\/containerd +\| cri-dockerd +\| cri-dockerd\/containerd +\| goal/,
  );
  assert.match(rendered[2] ?? '', /\| pod_start_p50_ms +\| ms +\| 200 +\| 300 +\| 1\.5 +\| 400 +\| 2 +\| /);
  // Without containerd there is nothing to divide by.
  const alone = metricTable({ dockershim: runWith({ pod_start_p50_ms: 300 }) });
  assert.deepEqual(alone.pod_start_p50_ms.ratios, { dockershim: null });
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
