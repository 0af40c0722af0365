// One manifest file (Pod YAML or JSON) to one static pod: decode, type-check, default, name and
// UID as the kubelet's file source does (pkg/kubelet/config/common.go), validate.
import { parseAllDocuments, type ScalarTag } from 'yaml';
import type { Pod } from '../k8s-types.ts';
import { withPodDefaults } from '../pod-defaults.ts';
import { POD_SCHEMA } from './pod-schema.ts';
import { validatePod } from './pod-validation.ts';
import { checkShape, type ShapeIssues } from './shape-check.ts';
import { staticPodUid } from './static-pod-uid.ts';

export const CONFIG_HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const CONFIG_SEEN_ANNOTATION = 'kubernetes.io/config.seen';

export type ManifestResult = { ok: true; pod: Pod; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

export interface ManifestContext {
  /** The manifest's path, part of the UID. */
  path: string;
  nodeName: string;
}

function decodeJson(text: string, issues: ShapeIssues): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    issues.errors.push(`invalid JSON: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * `0644` is octal in the YAML kubectl reads (1.1) but decimal in YAML 1.2: read it as kubectl
 * does, so that file modes (defaultMode: 0400) mean what their authors meant.
 */
const LEADING_ZERO_OCTAL: ScalarTag = {
  identify: (value) => typeof value === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (source) => Number.parseInt(source, 8),
};

function decodeYaml(text: string, issues: ShapeIssues): unknown {
  const documents = parseAllDocuments(text, {
    prettyErrors: true,
    uniqueKeys: true,
    customTags: (tags) => [LEADING_ZERO_OCTAL, ...tags],
  });
  for (const doc of documents) {
    for (const error of doc.errors) issues.errors.push(`invalid YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`);
    for (const warning of doc.warnings) issues.warnings.push(`YAML: ${warning.message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (issues.errors.length > 0) return undefined;
  const values = documents.map((doc) => doc.toJS({ maxAliasCount: 100 }) as unknown).filter((v) => v !== null && v !== undefined);
  if (values.length > 1) {
    issues.errors.push(`expected one Pod, found ${values.length} YAML documents`);
    return undefined;
  }
  return values[0];
}

/** The name a static pod gets on a node: `<name>-<node name in lower case>`. */
export function staticPodName(name: string, nodeName: string): string {
  return `${name}-${nodeName.toLowerCase()}`;
}

/** The one object a manifest file holds (JSON or YAML), or undefined with `issues.errors` saying why. */
export function decodeManifest(text: string, issues: ShapeIssues): unknown {
  return /^\s*\{/.test(text) ? decodeJson(text, issues) : decodeYaml(text, issues);
}

export function parseStaticPodManifest(text: string, context: ManifestContext): ManifestResult {
  const issues: ShapeIssues = { errors: [], warnings: [] };
  return podFromManifest(decodeManifest(text, issues), issues, context);
}

/** The static pod a decoded manifest describes; `issues` holds what decoding found. */
export function podFromManifest(decoded: unknown, issues: ShapeIssues, context: ManifestContext): ManifestResult {
  if (issues.errors.length > 0) return { ok: false, ...issues };
  if (decoded === undefined) return { ok: false, errors: ['the file holds no Pod'], warnings: issues.warnings };
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
    return { ok: false, errors: ['expected a Pod object (apiVersion: v1, kind: Pod)'], warnings: issues.warnings };
  }
  const object = decoded as Record<string, unknown>;
  if (object.kind !== 'Pod') issues.errors.push(`kind: Invalid value: ${JSON.stringify(object.kind ?? '')}: expected "Pod"`);
  if (object.apiVersion !== 'v1')
    issues.errors.push(`apiVersion: Invalid value: ${JSON.stringify(object.apiVersion ?? '')}: expected "v1"`);
  const cleaned = checkShape(decoded, POD_SCHEMA, '', issues) as Pod;
  if (issues.errors.length > 0) return { ok: false, ...issues };
  cleaned.metadata ??= {};
  cleaned.spec ??= { containers: [] };
  if (!cleaned.metadata.name)
    return { ok: false, errors: ['metadata.name: Required value: name or generateName is required'], warnings: issues.warnings };

  const uid = cleaned.metadata.uid || staticPodUid(cleaned, context.nodeName, context.path);
  const pod = withPodDefaults({
    ...cleaned,
    metadata: {
      ...cleaned.metadata,
      uid,
      name: staticPodName(cleaned.metadata.name, context.nodeName),
      annotations: { ...cleaned.metadata.annotations, [CONFIG_HASH_ANNOTATION]: uid, [CONFIG_SOURCE_ANNOTATION]: 'file' },
    },
    spec: {
      ...cleaned.spec,
      nodeName: context.nodeName,
      // Static pods tolerate every NoExecute taint, so node problems never evict them.
      tolerations: [...(cleaned.spec.tolerations ?? []), { operator: 'Exists', effect: 'NoExecute' }],
    },
    status: { phase: 'Pending' },
  });
  const errors = validatePod(pod);
  if (errors.length > 0) return { ok: false, errors, warnings: issues.warnings };
  return { ok: true, pod, warnings: issues.warnings };
}
