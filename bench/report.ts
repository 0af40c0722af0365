// The results file (bench/results/<date>-<commit>.json) and the table printed at the end.
import { GOALS, METRIC_NAMES, METRICS, type MetricName } from './metrics.ts';
import { RUNTIME_NAMES, type RuntimeName } from './runtime-under-test.ts';
import { middle, round } from './stats.ts';
import type { RuntimeRun } from './workloads.ts';

/**
 * One metric's figures: `berth` and `containerd` always (null when missing or not run), every other
 * runtime of the run by its name, `ratio` = berth / containerd (the goals' ratio, as in every kept
 * result), and `ratios`: each runtime of the run but containerd, divided by containerd.
 */
export type MetricFigures = { berth: number | null; containerd: number | null } & Partial<Record<RuntimeName, number | null>> & {
    ratio: number | null;
    ratios: Partial<Record<RuntimeName, number | null>>;
  };

export interface GoalResult {
  goal: string;
  /** null when a figure is missing. */
  met: boolean | null;
}

export function ratioOf(berth: number | null, containerd: number | null): number | null {
  if (berth === null || containerd === null || containerd === 0) return null;
  return round(berth / containerd, 3);
}

/** The runtimes of `runs`, containerd first, in RUNTIME_NAMES order unless `order` is given. */
export function runtimesOf(runs: Partial<Record<RuntimeName, RuntimeRun>>, order: readonly RuntimeName[] = RUNTIME_NAMES): RuntimeName[] {
  const present = order.filter((name) => runs[name] !== undefined);
  return [...present.filter((name) => name === 'containerd'), ...present.filter((name) => name !== 'containerd')];
}

export function metricTable(
  runs: Partial<Record<RuntimeName, RuntimeRun>>,
  order?: readonly RuntimeName[],
): Record<MetricName, MetricFigures> {
  const runtimes = runtimesOf(runs, order);
  const out = {} as Record<MetricName, MetricFigures>;
  for (const name of METRIC_NAMES) {
    const figure = (runtime: RuntimeName) => runs[runtime]?.metrics[name] ?? null;
    const berth = figure('berth');
    const containerd = figure('containerd');
    const others: Partial<Record<RuntimeName, number | null>> = {};
    const ratios: Partial<Record<RuntimeName, number | null>> = {};
    for (const runtime of runtimes) {
      if (runtime === 'containerd') continue;
      if (runtime !== 'berth') others[runtime] = figure(runtime);
      ratios[runtime] = ratioOf(figure(runtime), containerd);
    }
    out[name] = { berth, containerd, ...others, ratio: ratioOf(berth, containerd), ratios };
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

/** A plain-text (and Markdown) table: metric, unit, containerd, then each runtime and its ratio to containerd, goal. */
export function renderTable(
  metrics: Record<MetricName, MetricFigures>,
  goals: Partial<Record<MetricName, GoalResult>>,
  runtimes: readonly RuntimeName[] = ['containerd', 'berth'],
): string {
  const others = runtimes.filter((r) => r !== 'containerd');
  const header = ['metric', 'unit', 'containerd', ...others.flatMap((r) => [r, `${r}/containerd`]), 'goal (berth)'];
  const rows: string[][] = [header];
  for (const name of METRIC_NAMES) {
    const m = metrics[name];
    const g = goals[name];
    const goal = g === undefined ? '' : `${g.goal}${g.met === null ? '' : g.met ? ' ✔' : ' ✘'}`;
    const figures = others.flatMap((r) => [cell(m[r] ?? null), cell(r === 'berth' ? m.ratio : (m.ratios[r] ?? null))]);
    rows.push([name, METRICS[name].unit, cell(m.containerd), ...figures, goal]);
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
