// What a configMap, secret or downwardAPI volume holds: file path ▶ content and mode, as the
// kubelet's volume plugins compute it (items select and rename keys, a missing key fails unless
// the volume is optional, modes default to defaultMode, 0644 unless set).
import type { ConfigMap, DownwardApiVolumeFile, KeyToPath, Pod, Secret } from '../../../agent/k8s-types.ts';
import { metadataFieldValue } from '../../../agent/metadata-field.ts';
import { invalidArgument } from '../../../errors/errors.ts';
import type { FileProjection } from './atomic-writer.ts';

export const DEFAULT_FILE_MODE = 0o644;

function keysToFiles(
  data: ReadonlyMap<string, Uint8Array>,
  items: KeyToPath[] | undefined,
  defaultMode: number | undefined,
  optional: boolean,
  missingKey: (key: string) => string,
): Map<string, FileProjection> {
  const mode = defaultMode ?? DEFAULT_FILE_MODE;
  const files = new Map<string, FileProjection>();
  if (items === undefined || items.length === 0) {
    for (const [key, value] of data) files.set(key, { data: value, mode });
    return files;
  }
  for (const item of items) {
    const value = data.get(item.key);
    if (value === undefined) {
      if (optional) continue;
      throw invalidArgument('volume-key-missing', missingKey(item.key));
    }
    files.set(item.path, { data: value, mode: item.mode ?? mode });
  }
  return files;
}

/** A configMap volume's files from `data` (UTF-8) and `binaryData` (base64). */
export function configMapFiles(
  source: { items?: KeyToPath[]; defaultMode?: number; optional?: boolean },
  configMap: ConfigMap | undefined,
): Map<string, FileProjection> {
  const data = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(configMap?.data ?? {})) data.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(configMap?.binaryData ?? {})) data.set(k, Buffer.from(v, 'base64'));
  return keysToFiles(
    data,
    source.items,
    source.defaultMode,
    source.optional === true,
    (key) => `configmap references non-existent config key: ${key}`,
  );
}

/** A secret volume's files from `data` (base64). */
export function secretFiles(
  source: { items?: KeyToPath[]; defaultMode?: number; optional?: boolean },
  secret: Secret | undefined,
): Map<string, FileProjection> {
  const data = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(secret?.data ?? {})) data.set(k, Buffer.from(v, 'base64'));
  return keysToFiles(
    data,
    source.items,
    source.defaultMode,
    source.optional === true,
    (key) => `references non-existent secret key: ${key}`,
  );
}

/** Go's %q (strconv.Quote): the quoting of values in the labels and annotations files. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp < 0x80) {
      const named: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r' };
      out += named[cp] !== undefined ? `\\${named[cp]}` : `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A labels or annotations map as the downward API writes it: `key="value"` lines, sorted, no final newline. */
export function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort(byBytes)
    .map((key) => `${key}=${goQuote(map![key]!)}`)
    .join('\n');
}

/** The value of a fieldPath a downwardAPI volume may name (the API server allows only metadata). */
export function downwardApiFieldValue(pod: Pod, fieldPath: string): string {
  if (fieldPath === 'metadata.labels') return formatMap(pod.metadata.labels);
  if (fieldPath === 'metadata.annotations') return formatMap(pod.metadata.annotations);
  const value = metadataFieldValue(pod, fieldPath);
  if (value === undefined) throw invalidArgument('volume-field-unsupported', `unsupported fieldPath: ${fieldPath}`);
  return value;
}

/** The kubelet sorts the lines of every value it writes (a no-op but for multi-line values). */
function sortLines(value: string): string {
  return value.split('\n').sort(byBytes).join('\n');
}

/**
 * A downwardAPI volume's files. `resourceValue` computes a resourceFieldRef (the kubelet's rules;
 * the selector names its container). Every failing item is reported, joined.
 */
export function downwardApiFiles(
  source: { items?: DownwardApiVolumeFile[]; defaultMode?: number },
  pod: Pod,
  resourceValue: (item: Required<Pick<DownwardApiVolumeFile, 'resourceFieldRef'>>['resourceFieldRef']) => string,
): Map<string, FileProjection> {
  const files = new Map<string, FileProjection>();
  const errors: string[] = [];
  for (const item of source.items ?? []) {
    const mode = item.mode ?? source.defaultMode ?? DEFAULT_FILE_MODE;
    try {
      let value = '';
      if (item.fieldRef !== undefined) value = downwardApiFieldValue(pod, item.fieldRef.fieldPath);
      else if (item.resourceFieldRef !== undefined) value = resourceValue(item.resourceFieldRef);
      files.set(item.path, { data: Buffer.from(sortLines(value), 'utf8'), mode });
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) throw invalidArgument('volume-payload-invalid', errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`);
  return files;
}
