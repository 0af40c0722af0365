import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from './k8s-types.ts';
import { Counter, Histogram, NodeMetrics, renderFamilies } from './metrics.ts';

test('a histogram counts into cumulative buckets, with sum and count', () => {
  const h = new Histogram('x_seconds', 'X.', [0.1, 1]);
  h.observe(0.05, { op: 'a' });
  h.observe(0.5, { op: 'a' });
  h.observe(5, { op: 'a' });
  assert.equal(
    renderFamilies([h]),
    [
      '# HELP x_seconds X.',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{op="a",le="0.1"} 1',
      'x_seconds_bucket{op="a",le="1"} 2',
      'x_seconds_bucket{op="a",le="+Inf"} 3',
      'x_seconds_sum{op="a"} 5.55',
      'x_seconds_count{op="a"} 3',
      '',
    ].join('\n'),
  );
});

test('label values and help text are escaped', () => {
  const c = new Counter('y_total', 'Line one\nback\\slash');
  c.inc({ v: 'a"b\\c\nd' }, 2);
  assert.deepEqual(c.render(), ['# HELP y_total Line one\\nback\\\\slash', '# TYPE y_total counter', 'y_total{v="a\\"b\\\\c\\nd"} 2']);
});

test('node metrics: pods by phase, containers by state, restart counts', () => {
  const pod = (name: string, phase: 'Running' | 'Succeeded', restarts: number): Pod => ({
    metadata: { name, namespace: 'default', uid: name },
    spec: { containers: [{ name: 'c' }] },
    status: {
      phase,
      initContainerStatuses: [
        { name: 'i', state: { terminated: { exitCode: 0 } }, lastState: {}, ready: false, restartCount: 0, image: '', imageID: '' },
      ],
      containerStatuses: [
        {
          name: 'c',
          state: phase === 'Running' ? { running: {} } : { terminated: { exitCode: 0 } },
          lastState: {},
          ready: phase === 'Running',
          restartCount: restarts,
          image: '',
          imageID: '',
        },
      ],
    },
  });
  const metrics = new NodeMetrics();
  metrics.podWorkerDuration.observe(0.2, { operation_type: 'create' });
  const lines = metrics.render([pod('a', 'Running', 3), pod('b', 'Succeeded', 0)], 2).split('\n');
  for (const line of [
    'berth_node_pods{phase="Pending"} 0',
    'berth_node_pods{phase="Running"} 1',
    'berth_node_pods{phase="Succeeded"} 1',
    'berth_node_containers{state="waiting"} 0',
    'berth_node_containers{state="running"} 1',
    'berth_node_containers{state="terminated"} 3',
    'berth_node_container_restarts{namespace="default",pod="a",container="c"} 3',
    'berth_node_container_restarts{namespace="default",pod="a",container="i"} 0',
    'berth_node_manifest_problems 2',
    'kubelet_pod_worker_duration_seconds_count{operation_type="create"} 1',
  ]) {
    assert.ok(lines.includes(line), line);
  }
});
