// Prometheus text scraped and parsed by a Prometheus text-format parser (not by berth's own code).
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

export async function scrape(fetchText: () => Promise<string>): Promise<Map<string, Family>> {
  const families = parsePrometheusTextFormat(await fetchText()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the one sample of `name` whose labels include `labels`, as a number; undefined when none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const m = families.get(name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (m === undefined) return undefined;
  return Number(m.value ?? m.count);
}

/**
 * The `_count` of a histogram series whose labels include `labels`, read from the text itself: the
 * parser merges the series of a histogram whose `le` label comes first, as prom-client writes it.
 */
export function histogramCount(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_count(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return undefined;
}
