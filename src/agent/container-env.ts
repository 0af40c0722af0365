// A container's environment as the kubelet builds it (makeEnvironmentVariables): first every key
// of the envFrom ConfigMaps and Secrets (with their prefix; keys that are not valid variable names
// skipped), then env in order, values `$(VAR)`-expanded over what is defined so far, valueFrom
// resolved through the downward API (fieldRef, resourceFieldRef) and the pod's ConfigMaps and
// Secrets; finally `$(VAR)` expansion of command and args over the result.
import { invalidArgument, notFound } from '../errors/errors.ts';
import type { ConfigMap, Container, EnvFromSource, EnvVar, KeySelector, Pod, Secret } from './k8s-types.ts';
import { metadataFieldValue } from './metadata-field.ts';
import type { ConfigMapSource, SecretSource, ServiceSource } from './provider.ts';
import { resourceFieldValue } from './resource-field.ts';
import { podServiceEnv } from './service-env.ts';
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

/** The value of a fieldRef's fieldPath (the paths the API server accepts for env). */
export function podFieldValue(pod: Pod, fieldPath: string, facts: RuntimeFacts): string {
  switch (fieldPath) {
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
  const metadata = metadataFieldValue(pod, fieldPath);
  if (metadata !== undefined) return metadata;
  throw invalidArgument('unsupported-field-path', `env fieldRef: unsupported fieldPath "${fieldPath}"`, { fields: { fieldPath } });
}

/** Where valueFrom and envFrom look things up; a missing source makes a reference to it an error (unless optional). */
export interface EnvSources {
  configMaps?: ConfigMapSource;
  secrets?: SecretSource;
  /** The node's allocatable resources (cpu, memory, ephemeral-storage): limits a container does not set. */
  allocatable?: Record<string, string | number>;
  /** The services whose variables every container gets (service-env.ts); absent: none. */
  services?: ServiceSource;
  /** Told about envFrom keys skipped for not being valid variable names (the kubelet's InvalidEnvironmentVariableNames event). */
  onInvalidNames?: (message: string) => void;
}

/** The environment variable names the kubelet accepts from envFrom (IsEnvVarName). */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** One env computation's view of the pod's ConfigMaps and Secrets: each object is read once. */
class ObjectLookups {
  readonly #namespace: string;
  readonly #sources: EnvSources;
  readonly #signal: AbortSignal;
  readonly #configMaps = new Map<string, Promise<ConfigMap | undefined>>();
  readonly #secrets = new Map<string, Promise<Secret | undefined>>();

  constructor(namespace: string, sources: EnvSources, signal: AbortSignal) {
    this.#namespace = namespace;
    this.#sources = sources;
    this.#signal = signal;
  }

  /** The ConfigMap's data, or undefined when it does not exist and `optional`. */
  async configMap(name: string, optional: boolean): Promise<Record<string, string> | undefined> {
    const source = this.#sources.configMaps;
    const configMap = await this.#read('ConfigMap', this.#configMaps, source?.getConfigMap.bind(source), name, optional);
    return configMap && (configMap.data ?? {});
  }

  /** The Secret's data decoded, or undefined when it does not exist and `optional`. */
  async secret(name: string, optional: boolean): Promise<Record<string, string> | undefined> {
    const source = this.#sources.secrets;
    const secret = await this.#read('Secret', this.#secrets, source?.getSecret.bind(source), name, optional);
    return secret && Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  /** The object, read once per computation; undefined when it does not exist and `optional`. */
  async #read<T>(
    kind: 'ConfigMap' | 'Secret',
    cache: Map<string, Promise<T | undefined>>,
    get: ((namespace: string, name: string, signal: AbortSignal) => Promise<T | undefined>) | undefined,
    name: string,
    optional: boolean,
  ): Promise<T | undefined> {
    const lower = kind.toLowerCase() as 'configmap' | 'secret';
    if (get === undefined) {
      const noun = kind === 'ConfigMap' ? 'configMap' : 'secret';
      const message = `couldn't get ${noun} ${this.#namespace}/${name}, no ${kind} source defined`;
      throw invalidArgument(`no-${lower}-source`, message, { fields: { name } });
    }
    let found = cache.get(name);
    if (found === undefined) {
      found = get(this.#namespace, name, this.#signal);
      cache.set(name, found);
    }
    const object = await found;
    if (object !== undefined || optional) return object;
    throw notFound(`${lower}-not-found`, `${lower} "${name}" not found`, { fields: { namespace: this.#namespace, name } });
  }
}

async function envFromValues(pod: Pod, from: EnvFromSource, lookups: ObjectLookups, sources: EnvSources): Promise<[string, string][]> {
  const kind = from.configMapRef !== undefined ? 'configMap' : 'secret';
  const ref = from.configMapRef ?? from.secretRef;
  if (ref === undefined) return [];
  const name = ref.name ?? '';
  const data =
    kind === 'configMap' ? await lookups.configMap(name, ref.optional === true) : await lookups.secret(name, ref.optional === true);
  if (data === undefined) return [];
  const values: [string, string][] = [];
  const invalid: string[] = [];
  for (const [key, value] of Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const variable = `${from.prefix ?? ''}${key}`;
    if (ENV_VAR_NAME.test(variable)) values.push([variable, value]);
    else invalid.push(variable);
  }
  if (invalid.length > 0) {
    sources.onInvalidNames?.(
      `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${kind} ${pod.metadata.namespace}/${name} were skipped since they are considered invalid environment variable names.`,
    );
  }
  return values;
}

/** A key of a ConfigMap or Secret for valueFrom; undefined when it (or the object) is missing and the selector is optional. */
async function keyValue(
  pod: Pod,
  kind: 'ConfigMap' | 'Secret',
  selector: KeySelector,
  lookups: ObjectLookups,
): Promise<string | undefined> {
  const name = selector.name ?? '';
  const optional = selector.optional === true;
  const data = kind === 'ConfigMap' ? await lookups.configMap(name, optional) : await lookups.secret(name, optional);
  if (data === undefined) return undefined;
  const value = data[selector.key];
  if (value !== undefined || optional) return value;
  throw notFound('key-not-found', `couldn't find key ${selector.key} in ${kind} ${pod.metadata.namespace}/${name}`, {
    fields: { kind, name, key: selector.key },
  });
}

async function envValue(
  pod: Pod,
  container: Container,
  envVar: EnvVar,
  defined: Map<string, string>,
  facts: RuntimeFacts,
  sources: EnvSources,
  lookups: ObjectLookups,
): Promise<string | undefined> {
  const from = envVar.valueFrom;
  if (envVar.value || from === undefined) return expandVariables(envVar.value ?? '', (name) => defined.get(name));
  if (from.fieldRef) return podFieldValue(pod, from.fieldRef.fieldPath, facts);
  if (from.resourceFieldRef) return resourceFieldValue(from.resourceFieldRef, pod, container, sources.allocatable ?? {});
  if (from.configMapKeyRef) return keyValue(pod, 'ConfigMap', from.configMapKeyRef, lookups);
  if (from.secretKeyRef) return keyValue(pod, 'Secret', from.secretKeyRef, lookups);
  return '';
}

/**
 * The container's environment: envFrom keys first, then env in definition order (a later duplicate
 * name replaces the value in place). An optional reference to something missing leaves its variable
 * out. Throws for what cannot be resolved (`configmap "x" not found`, `couldn't find key k in
 * ConfigMap ns/x`, …); the kubelet reports those as CreateContainerConfigError and tries again.
 */
export async function containerEnv(
  pod: Pod,
  container: Container,
  facts: RuntimeFacts = {},
  sources: EnvSources = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<NamedValue[]> {
  const lookups = new ObjectLookups(pod.metadata.namespace ?? 'default', sources, signal);
  // Service variables first: envFrom and env replace them, and `$(VAR)` sees them.
  const defined = await podServiceEnv(pod, sources.services, signal);
  for (const from of container.envFrom ?? []) {
    for (const [name, value] of await envFromValues(pod, from, lookups, sources)) defined.set(name, value);
  }
  for (const envVar of container.env ?? []) {
    const value = await envValue(pod, container, envVar, defined, facts, sources, lookups);
    if (value !== undefined) defined.set(envVar.name, value);
  }
  signal.throwIfAborted();
  return [...defined].map(([name, value]) => ({ name, value }));
}

/** command and args with `$(VAR)` expanded over the container's environment. */
export function expandCommandAndArgs(container: Container, env: NamedValue[]): { command: string[]; args: string[] } {
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const expand = (s: string) => expandVariables(s, (name) => vars.get(name));
  return { command: (container.command ?? []).map(expand), args: (container.args ?? []).map(expand) };
}
