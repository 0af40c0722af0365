// A container's environment as the kubelet builds it: values with `$(VAR)` expansion over the
// variables defined before them, the downward API through fieldRef, and `$(VAR)` expansion of
// command and args over the result.
import { invalidArgument } from '../errors/errors.ts';
import type { Container, EnvVar, Pod } from './k8s-types.ts';
import { expandVariables } from './var-expansion.ts';

/** What the downward API can read that is not in the pod object itself. */
export interface RuntimeFacts {
  podIPs?: string[];
  hostIPs?: string[];
  nodeName?: string;
}

export interface NamedValue {
  name: string;
  value: string;
}

const LABEL_OR_ANNOTATION = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** The value of a fieldRef's fieldPath (the paths the API server accepts for env). */
export function podFieldValue(pod: Pod, fieldPath: string, facts: RuntimeFacts): string {
  const meta = pod.metadata;
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? facts.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return facts.hostIPs?.[0] ?? '';
    case 'status.hostIPs':
      return (facts.hostIPs ?? []).join(',');
    case 'status.podIP':
      return facts.podIPs?.[0] ?? '';
    case 'status.podIPs':
      return (facts.podIPs ?? []).join(',');
  }
  const m = LABEL_OR_ANNOTATION.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? meta.labels : meta.annotations)?.[m[2]!] ?? '';
  throw invalidArgument('unsupported-field-path', `env fieldRef: unsupported fieldPath "${fieldPath}"`, { fields: { fieldPath } });
}

function envValue(pod: Pod, envVar: EnvVar, defined: Map<string, string>, facts: RuntimeFacts): string {
  if (envVar.valueFrom === undefined) return expandVariables(envVar.value ?? '', (name) => defined.get(name));
  const from = envVar.valueFrom;
  if (from.fieldRef) return podFieldValue(pod, from.fieldRef.fieldPath, facts);
  const kind = from.configMapKeyRef
    ? 'configMapKeyRef'
    : from.secretKeyRef
      ? 'secretKeyRef'
      : from.resourceFieldRef
        ? 'resourceFieldRef'
        : 'valueFrom';
  throw invalidArgument('unsupported-env-source', `env ${envVar.name}: ${kind} is not supported yet`, {
    fields: { env: envVar.name, kind },
  });
}

/**
 * The container's environment in definition order (a later duplicate name replaces the value).
 * Throws `invalid-argument` for sources that cannot be resolved; the kubelet reports those as
 * CreateContainerConfigError.
 */
export function containerEnv(pod: Pod, container: Container, facts: RuntimeFacts = {}): NamedValue[] {
  const defined = new Map<string, string>();
  for (const envVar of container.env ?? []) defined.set(envVar.name, envValue(pod, envVar, defined, facts));
  return [...defined].map(([name, value]) => ({ name, value }));
}

/** command and args with `$(VAR)` expanded over the container's environment. */
export function expandCommandAndArgs(container: Container, env: NamedValue[]): { command: string[]; args: string[] } {
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const expand = (s: string) => expandVariables(s, (name) => vars.get(name));
  return { command: (container.command ?? []).map(expand), args: (container.args ?? []).map(expand) };
}
