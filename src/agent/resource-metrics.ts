// The kubelet's /metrics/resource: CPU and memory of the node, its pods and their containers, in
// the names and units metrics-server reads (core-seconds, bytes), each sample with the time it
// was measured, and scrape_error 1 when the pods' figures could not be read.
import { header, labelText, number } from './metrics.ts';
import type { CpuStats, MemoryStats, NodeStats, PodStats } from './stats-summary.ts';

type Labels = Record<string, string>;

interface Sample {
  labels: Labels;
  value: number;
  at?: string;
}

function family(name: string, help: string, type: 'counter' | 'gauge', samples: Sample[]): string[] {
  if (samples.length === 0) return [];
  const time = (at?: string) => {
    const ms = at === undefined ? Number.NaN : Date.parse(at);
    return Number.isNaN(ms) ? '' : ` ${ms}`;
  };
  return [...header(name, help, type), ...samples.map((s) => `${name}${labelText(s.labels)} ${number(s.value)}${time(s.at)}`)];
}

const cpuSeconds = (labels: Labels, cpu?: CpuStats): Sample[] =>
  cpu?.usageCoreNanoSeconds === undefined ? [] : [{ labels, value: cpu.usageCoreNanoSeconds / 1e9, at: cpu.time }];

const workingSet = (labels: Labels, memory?: MemoryStats): Sample[] =>
  memory?.workingSetBytes === undefined ? [] : [{ labels, value: memory.workingSetBytes, at: memory.time }];

export function renderResourceMetrics(node: NodeStats, pods: PodStats[] | undefined): string {
  const podLabels = (p: PodStats) => ({ namespace: p.podRef.namespace, pod: p.podRef.name });
  const containers = (pods ?? []).flatMap((p) => p.containers.map((c) => ({ labels: { container: c.name, ...podLabels(p) }, c })));
  const lines = [
    ...family(
      'container_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the container in core-seconds',
      'counter',
      containers.flatMap(({ labels, c }) => cpuSeconds(labels, c.cpu)),
    ),
    ...family(
      'container_memory_working_set_bytes',
      '[STABLE] Current working set of the container in bytes',
      'gauge',
      containers.flatMap(({ labels, c }) => workingSet(labels, c.memory)),
    ),
    ...family(
      'container_start_time_seconds',
      '[STABLE] Start time of the container since unix epoch in seconds',
      'gauge',
      containers.flatMap(({ labels, c }) =>
        Number.isNaN(Date.parse(c.startTime)) ? [] : [{ labels, value: Date.parse(c.startTime) / 1000, at: c.startTime }],
      ),
    ),
    ...family(
      'node_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the node in core-seconds',
      'counter',
      cpuSeconds({}, node.cpu),
    ),
    ...family('node_memory_working_set_bytes', '[STABLE] Current working set of the node in bytes', 'gauge', workingSet({}, node.memory)),
    ...family(
      'pod_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the pod in core-seconds',
      'counter',
      (pods ?? []).flatMap((p) => cpuSeconds(podLabels(p), p.cpu)),
    ),
    ...family(
      'pod_memory_working_set_bytes',
      '[STABLE] Current working set of the pod in bytes',
      'gauge',
      (pods ?? []).flatMap((p) => workingSet(podLabels(p), p.memory)),
    ),
    ...family('scrape_error', '[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise', 'gauge', [
      { labels: {}, value: pods === undefined ? 1 : 0 },
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
