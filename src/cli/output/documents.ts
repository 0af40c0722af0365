// Documents in the forms the commands offer besides tables: protobuf JSON as crictl's jsonpb writes
// it (every field present), YAML converted from that JSON as sigs.k8s.io/yaml does, `inspect`'s
// status + info document, and plain objects (the node API's pods, `info`) as JSON or YAML.
import { type DescMessage, type JsonObject, type JsonValue, type MessageShape, ScalarType, toJson } from '@bufbuild/protobuf';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { invalidArgument } from '../../errors/errors.ts';

/** What `-o` accepts on the crictl-style commands. */
export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseOutputFormat(value: string | undefined, fallback: OutputFormat): OutputFormat {
  if (value === undefined || value === '') return fallback;
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  if (value === 'go-template') throw invalidArgument('bad-flag', 'output format go-template is not supported (use json, yaml or table)');
  throw invalidArgument('bad-flag', `unsupported output format "${value}" (use json, yaml or table)`);
}

/**
 * A message as crictl's jsonpb (EmitDefaults) writes it: fields in declaration order under their
 * JSON names, scalars with their zero values, unset message fields as null, int64 as strings,
 * enums by name. For YAML, `format` 'yaml' gives int64 as numbers (see int64AsNumbers).
 */
export function protoJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, format?: OutputFormat): JsonObject {
  const json = withDefaults(schema, toJson(schema, message, { alwaysEmitImplicit: true }) as JsonObject);
  return format === 'yaml' ? int64AsNumbers(schema, json) : json;
}

const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.FIXED64, ScalarType.SFIXED64, ScalarType.SINT64]);

const rawJson = (JSON as unknown as { rawJSON(text: string): JsonValue }).rawJSON;
const isRawJson = (JSON as unknown as { isRawJSON(value: unknown): boolean }).isRawJSON;

/**
 * The int64 fields of a message's protobuf JSON (strings there, so that JavaScript readers keep
 * every digit) as numbers, every digit kept: YAML readers take numbers as numbers.
 */
export function int64AsNumbers(desc: DescMessage, json: JsonObject): JsonObject {
  const out: JsonObject = { ...json };
  const number = (v: JsonValue) => (typeof v === 'string' && /^-?\d+$/.test(v) ? rawJson(v) : v);
  for (const field of desc.fields) {
    const value = json[field.jsonName];
    if (value === undefined || value === null) continue;
    if (field.fieldKind === 'scalar' && INT64_TYPES.has(field.scalar)) out[field.jsonName] = number(value);
    else if (field.fieldKind === 'list' && field.listKind === 'scalar' && INT64_TYPES.has(field.scalar) && Array.isArray(value)) {
      out[field.jsonName] = value.map(number);
    } else if (field.fieldKind === 'message' && isObject(value)) out[field.jsonName] = int64AsNumbers(field.message, value);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      out[field.jsonName] = value.map((v) => (isObject(v) ? int64AsNumbers(field.message, v) : v));
    } else if (field.fieldKind === 'map' && field.mapKind === 'message' && isObject(value)) {
      out[field.jsonName] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isObject(v) ? int64AsNumbers(field.message, v) : v]),
      );
    }
  }
  return out;
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
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isRawJson(v);
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

/** JSON with bigints as numbers when they fit, as protojson writes int64 as strings otherwise. */
export function toPlainJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2) + '\n'
  );
}

/** A plain object as JSON, or as YAML in the `yaml` package's default style (large integers keep every digit). */
export function formatStructured(value: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return toPlainJson(value);
  return toYaml(parseYaml(toPlainJson(value), { intAsBigInt: true }));
}
