// The metrics of issue 5: names, units, and the goals berth is measured against.

export const METRIC_NAMES = [
  'pod_start_p50_ms',
  'pod_start_p99_ms',
  'pods_per_second_c8',
  'teardown_p50_ms',
  'exec_sync_p50_ms',
  'exec_sync_p99_ms',
  'list_pod_sandbox_p50_ms',
  'list_containers_p50_ms',
  'overhead_rss_per_pod_kb',
  'daemon_idle_rss_kb',
  'pull_200mb_s',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

export interface MetricInfo {
  unit: string;
  /** Higher figures are better (throughput); otherwise lower is better. */
  higherIsBetter: boolean;
  /** Decimals kept in the JSON. */
  digits: number;
  what: string;
}

export const METRICS: Record<MetricName, MetricInfo> = {
  pod_start_p50_ms: {
    unit: 'ms',
    higherIsBetter: false,
    digits: 1,
    what: 'pod start, one after another (RunPodSandbox → container running), p50',
  },
  pod_start_p99_ms: { unit: 'ms', higherIsBetter: false, digits: 1, what: 'pod start, one after another, p99' },
  pods_per_second_c8: { unit: 'pods/s', higherIsBetter: true, digits: 2, what: 'pod starts per second at concurrency 8' },
  teardown_p50_ms: { unit: 'ms', higherIsBetter: false, digits: 1, what: 'StopPodSandbox + RemovePodSandbox, p50' },
  exec_sync_p50_ms: { unit: 'ms', higherIsBetter: false, digits: 2, what: 'ExecSync of `true`, p50' },
  exec_sync_p99_ms: { unit: 'ms', higherIsBetter: false, digits: 2, what: 'ExecSync of `true`, p99' },
  list_pod_sandbox_p50_ms: { unit: 'ms', higherIsBetter: false, digits: 2, what: 'ListPodSandbox with 100 pods present, p50' },
  list_containers_p50_ms: { unit: 'ms', higherIsBetter: false, digits: 2, what: 'ListContainers with 200 containers present, p50' },
  overhead_rss_per_pod_kb: { unit: 'kB', higherIsBetter: false, digits: 0, what: 'RSS of daemon + shims/monitors per running pod' },
  daemon_idle_rss_kb: { unit: 'kB', higherIsBetter: false, digits: 0, what: 'daemon RSS when idle' },
  pull_200mb_s: { unit: 's', higherIsBetter: false, digits: 2, what: 'cold pull + unpack of a 200 MB, 10-layer image' },
};

export interface Goal {
  text: string;
  /** True when met; undefined when a figure is missing. */
  check(berth: number, containerd: number): boolean;
}

/** The goals of issue 5 (for the benchmark, not assertions in tests). */
export const GOALS: Partial<Record<MetricName, Goal>> = {
  pod_start_p50_ms: { text: '≤ 0.5 × containerd', check: (b, c) => b <= 0.5 * c },
  pods_per_second_c8: { text: '≥ 2 × containerd', check: (b, c) => b >= 2 * c },
  overhead_rss_per_pod_kb: { text: '≤ 1024 kB per pod', check: (b) => b <= 1024 },
  teardown_p50_ms: { text: '≤ containerd', check: (b, c) => b <= c },
  exec_sync_p50_ms: { text: '≤ containerd', check: (b, c) => b <= c },
  exec_sync_p99_ms: { text: '≤ containerd', check: (b, c) => b <= c },
  list_pod_sandbox_p50_ms: { text: '≤ containerd', check: (b, c) => b <= c },
  list_containers_p50_ms: { text: '≤ containerd', check: (b, c) => b <= c },
  pull_200mb_s: { text: '≤ containerd', check: (b, c) => b <= c },
};
