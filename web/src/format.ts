// Numbers and times as people read them on a node page.
import { isQuantity, parseQuantity } from '../../src/agent/quantity.ts';
import { shortDuration as humanDuration } from '../../src/cli/output/human.ts';

export { humanDuration };

export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '—';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? '—' : humanDuration(now - at);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

/** A Kubernetes quantity (`16318264Ki`) in base units; undefined when there is none or it does not parse. */
export function quantityValue(q: string | undefined): number | undefined {
  if (!q || !isQuantity(q)) return undefined;
  return parseQuantity(q);
}

export function millicores(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n >= 1000 ? `${(n / 1000).toFixed(2)} cores` : `${n}m`;
}
