// The node's metrics in the Prometheus text format (version 0.0.4), served on /metrics: gauges
// computed from the pods at each scrape (pods by phase, containers by state, restart counts),
// histograms of the provider calls the pod workers make and of PLEG relists, error counters.
// Names follow the kubelet where the meaning is the same (kubelet_pod_worker_duration_seconds,
// kubelet_pleg_relist_duration_seconds); the rest are berth_node_*.
import type { Pod, PodPhase } from './k8s-types.ts';

type Labels = Record<string, string>;

/** Prometheus' default buckets, extended to a minute: pod syncs that pull images take that long. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

export function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

export function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

/** A family of samples as text lines. */
export interface MetricFamily {
  render(): string[];
}

export class Counter implements MetricFamily {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  readonly name: string;
  readonly help: string;

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }

  value(labels: Labels = {}): number {
    return this.#values.get(labelText(labels))?.value ?? 0;
  }

  render(): string[] {
    return [
      ...header(this.name, this.help, 'counter'),
      ...[...this.#values.values()].map((e) => `${this.name}${labelText(e.labels)} ${number(e.value)}`),
    ];
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements MetricFamily {
  readonly #series = new Map<string, HistogramSeries>();
  readonly name: string;
  readonly help: string;
  readonly buckets: number[];

  constructor(name: string, help: string, buckets: number[] = DURATION_BUCKETS) {
    this.name = name;
    this.help = help;
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (const [i, bound] of this.buckets.entries()) if (value <= bound) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  count(labels: Labels = {}): number {
    return this.#series.get(labelText(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'histogram');
    for (const s of this.#series.values()) {
      for (const [i, bound] of this.buckets.entries()) {
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: number(bound) })} ${s.counts[i]}`);
      }
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${number(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

/** A gauge whose samples are computed when scraped. */
export class ComputedGauge implements MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly #collect: () => { labels: Labels; value: number }[];

  constructor(name: string, help: string, collect: () => { labels: Labels; value: number }[]) {
    this.name = name;
    this.help = help;
    this.#collect = collect;
  }

  render(): string[] {
    return [
      ...header(this.name, this.help, 'gauge'),
      ...this.#collect().map((s) => `${this.name}${labelText(s.labels)} ${number(s.value)}`),
    ];
  }
}

export function renderFamilies(families: MetricFamily[]): string {
  return `${families.flatMap((f) => f.render()).join('\n')}\n`;
}

const PHASES: PodPhase[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];
const CONTAINER_STATES = ['waiting', 'running', 'terminated'] as const;

export type PodOperation = 'create' | 'update' | 'delete';

/** What the node measures, and the families it serves. */
export class NodeMetrics {
  readonly podWorkerDuration = new Histogram(
    'kubelet_pod_worker_duration_seconds',
    'Duration in seconds of one provider call for one pod, by operation type: create, update or delete.',
  );
  readonly podWorkerErrors = new Counter('berth_node_pod_worker_errors_total', 'Provider calls for a pod that failed, by operation type.');
  readonly relistDuration = new Histogram('kubelet_pleg_relist_duration_seconds', 'Duration in seconds of relisting the pods (getPods).');
  readonly relistErrors = new Counter('berth_node_pleg_relist_errors_total', 'Relists of the pods that failed.');
  /** The kubelet's /metrics/probes family. */
  readonly probes = new Counter(
    'prober_probe_total',
    '[BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.',
  );

  /** /metrics/probes: every probe run, as the kubelet counts them (probe_type, result, container, pod, namespace, pod_uid). */
  renderProbes(): string {
    return renderFamilies([this.probes]);
  }

  /** The metrics as Prometheus text: gauges from these pods (with their latest status), then what was measured. */
  render(pods: Pod[], manifestProblems: number): string {
    const statuses = (pod: Pod) => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const phases = new Map<string, number>(PHASES.map((p) => [p, 0]));
    const states = new Map<string, number>(CONTAINER_STATES.map((s) => [s, 0]));
    for (const pod of pods) {
      const phase = pod.status?.phase ?? 'Pending';
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
      for (const status of statuses(pod)) {
        const state = status.state.running ? 'running' : status.state.terminated ? 'terminated' : 'waiting';
        states.set(state, (states.get(state) ?? 0) + 1);
      }
    }
    return renderFamilies([
      new ComputedGauge('berth_node_pods', 'Pods on the node, by phase.', () =>
        [...phases].map(([phase, value]) => ({ labels: { phase }, value })),
      ),
      new ComputedGauge('berth_node_containers', "Containers of the node's pods (init containers included), by state.", () =>
        [...states].map(([state, value]) => ({ labels: { state }, value })),
      ),
      new ComputedGauge('berth_node_container_restarts', 'Restart count of each container, as its status reports it.', () =>
        pods.flatMap((pod) =>
          statuses(pod).map((status) => ({
            labels: { namespace: pod.metadata.namespace ?? '', pod: pod.metadata.name ?? '', container: status.name },
            value: status.restartCount,
          })),
        ),
      ),
      new ComputedGauge('berth_node_manifest_problems', 'Static pod manifest files that are refused.', () => [
        { labels: {}, value: manifestProblems },
      ]),
      this.podWorkerDuration,
      this.podWorkerErrors,
      this.relistDuration,
      this.relistErrors,
    ]);
  }
}
