// The results file (bench/results/<date>-<commit>.json) and the table printed at the end.
import { GOALS, METRIC_NAMES, METRICS, type MetricName } from './metrics.ts';
import type { RuntimeName } from './runtime-under-test.ts';
import { middle, round } from './stats.ts';
import type { RuntimeRun } from './workloads.ts';

export interface MetricFigures {
  berth: number | null;
  containerd: number | null;
  /** berth / containerd; null when either is missing. */
  ratio: number | null;
}

export interface GoalResult {
  goal: string;
  /** null when a figure is missing. */
  met: boolean | null;
}

export function ratioOf(berth: number | null, containerd: number | null): number | null {
  if (berth === null || containerd === null || containerd === 0) return null;
  return round(berth / containerd, 3);
}

export function metricTable(runs: Partial<Record<RuntimeName, RuntimeRun>>): Record<MetricName, MetricFigures> {
  const out = {} as Record<MetricName, MetricFigures>;
  for (const name of METRIC_NAMES) {
    const berth = runs.berth?.metrics[name] ?? null;
    const containerd = runs.containerd?.metrics[name] ?? null;
    out[name] = { berth, containerd, ratio: ratioOf(berth, containerd) };
  }
  return out;
}

export function goalResults(metrics: Record<MetricName, MetricFigures>): Partial<Record<MetricName, GoalResult>> {
  const out: Partial<Record<MetricName, GoalResult>> = {};
  for (const name of METRIC_NAMES) {
    const goal = GOALS[name];
    if (goal === undefined) continue;
    const { berth, containerd } = metrics[name];
    out[name] = { goal: goal.text, met: berth === null || containerd === null ? null : goal.check(berth, containerd) };
  }
  return out;
}

function cell(value: number | null): string {
  return value === null ? '—' : String(value);
}

/** A plain-text (and Markdown) table: metric, containerd, berth, ratio, goal. */
export function renderTable(metrics: Record<MetricName, MetricFigures>, goals: Partial<Record<MetricName, GoalResult>>): string {
  const rows: string[][] = [['metric', 'unit', 'containerd', 'berth', 'berth/containerd', 'goal']];
  for (const name of METRIC_NAMES) {
    const m = metrics[name];
    const g = goals[name];
    const goal = g === undefined ? '' : `${g.goal}${g.met === null ? '' : g.met ? ' ✔' : ' ✘'}`;
    rows.push([name, METRICS[name].unit, cell(m.containerd), cell(m.berth), cell(m.ratio), goal]);
  }
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** One run per round → the median (for two rounds, the mean) of each figure over the rounds that have it; every round's details. */
export function mergeRounds(rounds: RuntimeRun[]): RuntimeRun {
  if (rounds.length === 1) return rounds[0] as RuntimeRun;
  const metrics: Partial<Record<MetricName, number | null>> = {};
  for (const name of METRIC_NAMES) {
    const values = rounds.map((r) => r.metrics[name]).filter((v): v is number => typeof v === 'number');
    metrics[name] = values.length === 0 ? null : round(middle(values), METRICS[name].digits);
  }
  return {
    metrics,
    notes: rounds.flatMap((r, i) => r.notes.map((note) => `round ${i + 1}: ${note}`)),
    details: { rounds: rounds.map((r) => ({ metrics: r.metrics, ...r.details })) },
  };
}
