// The shape every stored object has: what the fake reads of metadata, the rest as JSON.
export interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    uid?: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  [key: string]: unknown;
}

export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  [key: string]: unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: pod and node specs are read field by field as JSON
export type Loose = Record<string, any>;

export const clone = <T>(value: T): T => structuredClone(value);

/** A timestamp as the API writes them (RFC 3339, seconds). */
export const now = (at = Date.now()): string => new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');

/** JSON with sorted keys: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
