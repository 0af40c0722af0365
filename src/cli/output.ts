// Output in the three forms crictl offers: an aligned table, JSON, or YAML.
import { stringify as toYaml } from 'yaml';
import { invalidArgument } from '../errors/errors.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseOutputFormat(value: string | undefined, fallback: OutputFormat = 'table'): OutputFormat {
  if (value === undefined) return fallback;
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  throw invalidArgument('bad-flag', `unsupported output format "${value}" (use table, json or yaml)`);
}

/** Columns padded with three spaces, as crictl and kubectl print them. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** JSON with bigints as numbers when they fit, as protojson writes int64 as strings otherwise. */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2) + '\n'
  );
}

export function formatStructured(value: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return toJson(value);
  return toYaml(JSON.parse(toJson(value)));
}

/** 1.5MB, 800kB: the human sizes crictl prints (decimal units, as docker's go-units does). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}
