// Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3", "2G") as numbers of base units.
import { invalidArgument } from '../errors/errors.ts';

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY_RE = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

export function isQuantity(value: unknown): boolean {
  return typeof value === 'number' ? Number.isFinite(value) : typeof value === 'string' && QUANTITY_RE.test(value);
}

/** The quantity in base units (cores, bytes), as a float. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = QUANTITY_RE.exec(value);
  if (!m) throw invalidArgument('bad-quantity', `"${value}" is not a resource quantity (e.g. 100m, 0.5, 128Mi)`, { fields: { value } });
  const number = Number(m[1]);
  if (m[2] !== undefined) return number * 10 ** Number(m[2].slice(1));
  return number * SUFFIX[m[3] ?? '']!;
}

/** Rounded up to whole thousandths, as Quantity.MilliValue() does. */
export function milliValue(value: string | number): number {
  return Math.ceil(parseQuantity(value) * 1000 - 1e-9);
}

/** Rounded up to a whole number, as Quantity.Value() does. */
export function wholeValue(value: string | number): number {
  return Math.ceil(parseQuantity(value) - 1e-9);
}
