// ConfigMap and Secret manifests beside the static pods (standalone mode): type-checked, defaulted
// and validated as the API server does on create (ValidateConfigMap, ValidateSecret), with its
// error wording. A Secret's stringData is merged into data as base64, as the API server does.
import type { ConfigMap, Secret } from '../k8s-types.ts';
import { dns1123LabelProblem, dns1123SubdomainProblem } from './dns-names.ts';
import { type FieldType, objectMeta } from './pod-schema.ts';
import { checkShape, type ShapeIssues } from './shape-check.ts';

export type ManifestObject = ConfigMap | Secret;

export type ObjectResult = { ok: true; object: ManifestObject; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

/** The kinds a manifest folder may hold besides Pods. */
export const OBJECT_KINDS = ['ConfigMap', 'Secret'] as const;

/** core.MaxSecretSize: the most data a ConfigMap or Secret may hold. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

const stringMap: FieldType = { map: 'string' };
const CONFIG_MAP_SCHEMA: FieldType = {
  object: { apiVersion: 'string', kind: 'string', metadata: objectMeta, data: stringMap, binaryData: stringMap, immutable: 'boolean' },
};
const SECRET_SCHEMA: FieldType = {
  object: {
    apiVersion: 'string',
    kind: 'string',
    metadata: objectMeta,
    data: stringMap,
    stringData: stringMap,
    type: 'string',
    immutable: 'boolean',
  },
};

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*$/;
const KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** What IsConfigMapKey says about `key`; empty when it is a valid key. */
export function configKeyProblems(key: string): string[] {
  const problems: string[] = [];
  if (key.length > 253) problems.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(key)) problems.push(KEY_MESSAGE);
  if (key === '.') problems.push("must not be '.'");
  else if (key === '..') problems.push("must not be '..'");
  else if (key.startsWith('..')) problems.push("must not start with '..'");
  return problems;
}

/** Decoded bytes, or the error Go's base64 decoder gives (JSON []byte fields are standard base64, padded; newlines ignored). */
function decodeBase64(value: string): Buffer | string {
  const text = value.replace(/[\r\n]/g, '');
  const body = text.replace(/=+$/, '');
  const bad = [...body].findIndex((c) => !BASE64.test(c));
  if (bad >= 0) return `illegal base64 data at input byte ${bad}`;
  if (text.length % 4 !== 0 || text.length - body.length > 2) return `illegal base64 data at input byte ${Math.floor(body.length / 4) * 4}`;
  return Buffer.from(text, 'base64');
}

function checkMeta(errors: string[], object: ManifestObject): void {
  const { name, namespace } = object.metadata;
  if (!name) errors.push('metadata.name: Required value: name or generateName is required');
  else {
    const problem = dns1123SubdomainProblem(name);
    if (problem !== undefined) errors.push(`metadata.name: Invalid value: ${JSON.stringify(name)}: ${problem}`);
  }
  const namespaceProblem = namespace === undefined ? undefined : dns1123LabelProblem(namespace);
  if (namespaceProblem !== undefined) errors.push(`metadata.namespace: Invalid value: ${JSON.stringify(namespace)}: ${namespaceProblem}`);
}

function checkKeys(errors: string[], field: string, data: Record<string, unknown>): void {
  for (const key of Object.keys(data)) {
    for (const problem of configKeyProblems(key)) errors.push(`${field}[${key}]: Invalid value: ${JSON.stringify(key)}: ${problem}`);
  }
}

/** Base64 values decoded; bad ones reported (their content never echoed: it may be secret). */
function decodeValues(errors: string[], field: string, data: Record<string, string>): Map<string, Buffer> {
  const decoded = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(data)) {
    const bytes = decodeBase64(value);
    if (typeof bytes === 'string') errors.push(`${field}[${key}]: Invalid value: "<value redacted>": ${bytes}`);
    else decoded.set(key, bytes);
  }
  return decoded;
}

function checkConfigMap(errors: string[], configMap: ConfigMap): void {
  const data = configMap.data ?? {};
  const binaryData = configMap.binaryData ?? {};
  checkKeys(errors, 'data', data);
  for (const key of Object.keys(data)) {
    if (key in binaryData) errors.push(`data[${key}]: Invalid value: ${JSON.stringify(key)}: duplicate of key present in binaryData`);
  }
  checkKeys(errors, 'binaryData', binaryData);
  let size = Object.values(data).reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  for (const bytes of decodeValues(errors, 'binaryData', binaryData).values()) size += bytes.length;
  if (size > MAX_OBJECT_BYTES) errors.push(`Too long: may not be more than ${MAX_OBJECT_BYTES} bytes`);
}

/** Keys a Secret of a well-known type must have (ValidateSecret). */
function checkSecretType(errors: string[], secret: Secret, decoded: Map<string, Buffer>): void {
  const has = (key: string) => decoded.has(key);
  const required = (key: string) => {
    if (!has(key)) errors.push(`data[${key}]: Required value`);
  };
  const json = (key: string) => {
    const bytes = decoded.get(key);
    if (bytes === undefined) return;
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      errors.push(`data[${key}]: Invalid value: "<secret contents redacted>": ${(e as Error).message}`);
    }
  };
  switch (secret.type) {
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata.annotations?.['kubernetes.io/service-account.name'])
        errors.push('metadata.annotations[kubernetes.io/service-account.name]: Required value');
      break;
    case 'kubernetes.io/dockercfg':
      required('.dockercfg');
      json('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      required('.dockerconfigjson');
      json('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) {
        required('username');
        required('password');
      }
      break;
    case 'kubernetes.io/ssh-auth':
      required('ssh-privatekey');
      break;
    case 'kubernetes.io/tls':
      required('tls.key');
      required('tls.crt');
      break;
  }
}

/** stringData merged into data (stringData wins), as the API server stores a Secret. */
function mergeStringData(secret: Secret & { stringData?: Record<string, string> }): Secret {
  const { stringData, ...rest } = secret;
  if (stringData === undefined) return rest;
  const encoded = Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
  return { ...rest, data: { ...rest.data, ...encoded } };
}

function checkSecret(errors: string[], secret: Secret): void {
  const data = secret.data ?? {};
  checkKeys(errors, 'data', data);
  const decoded = decodeValues(errors, 'data', data);
  const size = [...decoded.values()].reduce((sum, bytes) => sum + bytes.length, 0);
  if (size > MAX_OBJECT_BYTES) errors.push(`data: Too long: may not be more than ${MAX_OBJECT_BYTES} bytes`);
  checkSecretType(errors, secret, decoded);
}

/** The ConfigMap or Secret a decoded manifest describes (its kind already known), defaulted and validated. */
export function objectFromManifest(decoded: Record<string, unknown>, issues: ShapeIssues): ObjectResult {
  const kind = decoded.kind as (typeof OBJECT_KINDS)[number];
  if (decoded.apiVersion !== 'v1')
    issues.errors.push(`apiVersion: Invalid value: ${JSON.stringify(decoded.apiVersion ?? '')}: expected "v1"`);
  const cleaned = checkShape(decoded, kind === 'Secret' ? SECRET_SCHEMA : CONFIG_MAP_SCHEMA, '', issues) as ManifestObject;
  if (issues.errors.length > 0) return { ok: false, ...issues };
  cleaned.metadata ??= {};
  cleaned.metadata.namespace ||= 'default';
  const errors: string[] = [];
  let object: ManifestObject;
  if (kind === 'Secret') {
    object = mergeStringData(cleaned as Secret);
    object.type ||= 'Opaque';
    checkMeta(errors, object);
    checkSecret(errors, object);
  } else {
    const configMap = cleaned as ConfigMap;
    object = configMap;
    checkMeta(errors, configMap);
    checkConfigMap(errors, configMap);
  }
  if (errors.length > 0) return { ok: false, errors, warnings: issues.warnings };
  return { ok: true, object, warnings: issues.warnings };
}

/** `ConfigMap default/settings`, as logs and problems name an object. */
export function objectRef(object: ManifestObject): string {
  return `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`;
}
