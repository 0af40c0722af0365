// Pod sandbox and container config files for `berth runp` and `berth create`: JSON or YAML with the
// CRI's field names, as crictl reads them (proto names such as `log_directory` and
// `linux.security_context`; protobuf JSON names such as `logDirectory` work too). Enums by number
// (as crictl wants them) or by name. An unknown field is an error that names it, not silently
// dropped as crictl does. KeyValue values (environment variables) are plain text, as crictl writes
// them, although the current CRI declares them as bytes (base64 in protobuf JSON).
import { readFile } from 'node:fs/promises';
import { type DescField, type DescMessage, fromJson, type JsonObject, type MessageShape } from '@bufbuild/protobuf';
import { parse as parseYaml } from 'yaml';
import {
  type ContainerConfig,
  ContainerConfigSchema,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
} from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';

/** Parses config text (JSON is YAML too) into the message; `source` names it in errors. */
export function parseConfig<Desc extends DescMessage>(schema: Desc, text: string, source: string): MessageShape<Desc> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false });
  } catch (e) {
    throw invalidArgument('bad-config', `${source}: not valid JSON or YAML: ${(e as Error).message}`, { cause: e });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalidArgument('bad-config', `${source}: expected an object with the fields of ${schema.name}`);
  }
  try {
    return fromJson(schema, plainKeyValues(schema, doc as JsonObject), { ignoreUnknownFields: false });
  } catch (e) {
    throw invalidArgument('bad-config', `${source}: ${(e as Error).message}`, { cause: e });
  }
}

const KEY_VALUE = 'runtime.v1.KeyValue';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of `doc` in which every KeyValue's `value` text is base64, as protobuf JSON wants bytes. */
export function plainKeyValues(desc: DescMessage, doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(doc)) {
    const field: DescField | undefined = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined || value === null) {
      out[key] = value;
    } else if (desc.typeName === KEY_VALUE && field.name === 'value' && typeof value === 'string') {
      out[key] = Buffer.from(value, 'utf8').toString('base64');
    } else if (field.fieldKind === 'message' && isObject(value)) {
      out[key] = plainKeyValues(field.message, value);
    } else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      out[key] = value.map((v) => (isObject(v) ? plainKeyValues(field.message, v) : v));
    } else if (field.fieldKind === 'map' && field.mapKind === 'message' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isObject(v) ? plainKeyValues(field.message, v) : v]));
    } else {
      out[key] = value;
    }
  }
  return out;
}

async function readConfig(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw invalidArgument('bad-config', `config at ${path} not found`, { cause: e });
    throw invalidArgument('bad-config', `reading ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export async function loadPodSandboxConfig(path: string): Promise<PodSandboxConfig> {
  return parseConfig(PodSandboxConfigSchema, await readConfig(path), path);
}

export async function loadContainerConfig(path: string): Promise<ContainerConfig> {
  return parseConfig(ContainerConfigSchema, await readConfig(path), path);
}
