// Output of the pod and container commands as crictl 1.26 prints it: tables laid out by Go's
// tabwriter (minimum width 20, padding 3), go-units durations and sizes, Go time formats, protobuf
// JSON with every field present (jsonpb's EmitDefaults), and `inspect`'s status + info document.
import { type DescMessage, type JsonObject, type JsonValue, type MessageShape, toJson } from '@bufbuild/protobuf';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { invalidArgument } from '../errors/errors.ts';

/** What `-o` accepts on the pod and container commands. */
export type ListFormat = 'table' | 'json' | 'yaml';

export function parseListFormat(value: string | undefined, fallback: ListFormat): ListFormat {
  if (value === undefined || value === '') return fallback;
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  if (value === 'go-template') throw invalidArgument('bad-flag', 'output format go-template is not supported (use json, yaml or table)');
  throw invalidArgument('bad-flag', `unsupported output format "${value}" (use json, yaml or table)`);
}

// ---- tables ----

function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Rows joined by tabs through Go's text/tabwriter with crictl's settings (minwidth 20, padding 3,
 * padchar ' '): each column but the last is as wide as its widest cell plus 3, and at least 20; the
 * last cell of a row is written as it is.
 */
export function tabTable(rows: string[][]): string {
  const columns = Math.max(0, ...rows.map((r) => r.length - 1));
  const widths: number[] = [];
  for (let i = 0; i < columns; i++) {
    widths.push(Math.max(20, ...rows.map((r) => (i < r.length - 1 ? runeLength(r[i]!) + 3 : 0))));
  }
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell + ' '.repeat(widths[i]! - runeLength(cell)) : cell)).join('') + '\n')
    .join('');
}

// ---- durations, sizes, times ----

/** go-units HumanDuration: "3 seconds", "About a minute", "2 hours", "3 days". */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

/** "5 seconds ago" for a CRI timestamp in nanoseconds, as crictl's CREATED column says it. */
export function createdAgo(nanos: bigint, now = Date.now()): string {
  return `${humanDuration(now - Number(nanos / 1_000_000n))} ago`;
}

/** go-units HumanSize: decimal units, four significant digits ("360.4kB", "8.192kB", "0B"). */
export function goHumanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The first 13 characters of an ID, as crictl shows IDs in tables. */
export function truncateId(id: string): string {
  return id.length > 13 ? id.slice(0, 13) : id;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function localParts(nanos: bigint): { date: Date; fraction: string; offsetMinutes: number } {
  const ms = Number(nanos / 1_000_000n);
  const date = new Date(ms);
  let frac = nanos % 1_000_000_000n;
  if (frac < 0n) frac += 1_000_000_000n;
  return { date, fraction: frac.toString().padStart(9, '0').replace(/0+$/, ''), offsetMinutes: -date.getTimezoneOffset() };
}

function localDateTime(date: Date, sep: string): string {
  return (
    `${String(date.getFullYear()).padStart(4, '0')}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}` +
    `${sep}${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`
  );
}

function offsetString(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.trunc(abs / 60))}${colon ? ':' : ''}${pad2(abs % 60)}`;
}

/** Go's `time.Unix(0, nanos).Format(time.RFC3339Nano)` in the local time zone. */
export function rfc3339Nano(nanos: bigint): string {
  const { date, fraction, offsetMinutes } = localParts(nanos);
  const zone = offsetMinutes === 0 ? 'Z' : offsetString(offsetMinutes, true);
  return `${localDateTime(date, 'T')}${fraction === '' ? '' : `.${fraction}`}${zone}`;
}

/** Go's zero time in RFC 3339, which crictl prints for a time that has not happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go's `time.Time.String()` of a CRI timestamp: "2024-01-02 03:04:05.123456789 +0000 UTC". */
export function goTimeString(nanos: bigint): string {
  const { date, fraction, offsetMinutes } = localParts(nanos);
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ??
    offsetString(offsetMinutes, false);
  return `${localDateTime(date, ' ')}${fraction === '' ? '' : `.${fraction}`} ${offsetString(offsetMinutes, false)} ${zone}`;
}

// ---- protobuf JSON ----

/**
 * A message as crictl's jsonpb (EmitDefaults) writes it: fields in declaration order under their
 * JSON names, scalars with their zero values, unset message fields as null, int64 as strings,
 * enums by name.
 */
export function protoJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonObject {
  const json = toJson(schema, message, { alwaysEmitImplicit: true }) as JsonObject;
  return withDefaults(schema, json);
}

function withDefaults(desc: DescMessage, json: JsonObject): JsonObject {
  if (desc.typeName.startsWith('google.protobuf.')) return json;
  const out: JsonObject = {};
  for (const field of desc.fields) {
    const value = json[field.jsonName];
    if (value === undefined) {
      if (field.fieldKind === 'message' && field.oneof === undefined) out[field.jsonName] = null;
      continue;
    }
    if (field.fieldKind === 'message' && isObject(value)) out[field.jsonName] = withDefaults(field.message, value);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      out[field.jsonName] = value.map((v) => (isObject(v) ? withDefaults(field.message, v) : v));
    } else if (field.fieldKind === 'map' && field.mapKind === 'message' && isObject(value)) {
      out[field.jsonName] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isObject(v) ? withDefaults(field.message, v) : v]),
      );
    } else out[field.jsonName] = value;
  }
  return out;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys of every nested object sorted, as Go's encoding/json writes a map. */
export function sortKeysDeep(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key]!);
    return out;
  }
  return value;
}

/** JSON as crictl prints it, or YAML as sigs.k8s.io/yaml converts that JSON (keys sorted, lists not indented). */
export function formatDocument(value: JsonValue, format: 'json' | 'yaml'): string {
  const json = JSON.stringify(value, null, 2);
  return format === 'json' ? `${json}\n` : yamlFromJson(json);
}

function yamlFromJson(json: string): string {
  // Parsed as YAML (JSON is YAML) with integers as bigints, so that no large number loses digits.
  const doc = parseYaml(json, { intAsBigInt: true }) as unknown;
  // YAML 1.1 quoting, as go-yaml does: strings such as "yes" or an RFC 3339 time stay strings. crictl
  // prints the YAML with one more newline.
  return `${toYaml(doc, { sortMapEntries: true, indentSeq: false, version: '1.1' })}\n`;
}

/** Go's encoding/json escapes <, > and & (and two line separators) in strings. */
function goEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `crictl inspect` / `inspectp`: {"status": …, then each info key in sorted order}. An info value
 * that is JSON goes in as it is (numbers keep every digit), anything else as a string.
 */
export function formatStatusInfo(status: JsonObject, info: Record<string, string>, format: 'json' | 'yaml'): string {
  const parts = [`"status":${goEscape(JSON.stringify(status))}`];
  for (const key of Object.keys(info).sort()) {
    const raw = info[key]!;
    let valid = true;
    try {
      JSON.parse(raw);
    } catch {
      valid = false;
    }
    parts.push(`${JSON.stringify(key)}:${valid ? raw.trim() : JSON.stringify(raw)}`);
  }
  const text = `{${parts.join(',')}}`;
  return format === 'json' ? `${indentJson(text)}\n` : yamlFromJson(text);
}

/** Go's json.Indent with two spaces: re-lays out JSON text without touching its tokens. */
export function indentJson(text: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let needIndent = false;
  const newline = () => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += newline();
    }
    if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '{' || c === '[') {
      out += c;
      needIndent = true;
    } else if (c === ',') {
      out += c + newline();
    } else if (c === ':') {
      out += ': ';
    } else if (c === '}' || c === ']') {
      if (needIndent)
        needIndent = false; // empty: {} or []
      else {
        depth--;
        out += newline();
      }
      out += c;
    } else out += c;
  }
  return out;
}
