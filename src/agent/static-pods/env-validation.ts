// The API server's checks of a container's env and envFrom (ValidateEnv, ValidateEnvFrom), with its
// wording: exactly one valueFrom source, the downward API paths and resources it supports, divisors,
// ConfigMap and Secret names and keys.
import type { Container, EnvFromSource, EnvVar, ResourceFieldSelector } from '../k8s-types.ts';
import { parseQuantity } from '../quantity.ts';
import { isResourceField, RESOURCE_FIELDS } from '../resource-field.ts';
import { dns1123SubdomainProblem } from './dns-names.ts';
import { configKeyProblems } from './manifest-object.ts';

const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const ENV_VAR_MESSAGE =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";

/** The fieldPaths env may read (besides metadata.labels['…'] and metadata.annotations['…']). */
const ENV_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const SUBSCRIPTED = /^([^[]+)\['(.*)'\]$/;

const CPU_DIVISORS = ['1m', '1'];
const BYTE_DIVISORS = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'];

class Problems {
  readonly list: string[] = [];
  required(path: string): void {
    this.list.push(`${path}: Required value`);
  }
  invalid(path: string, value: unknown, detail: string): void {
    this.list.push(`${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
  }
  notSupported(path: string, value: string, supported: readonly string[]): void {
    this.list.push(
      `${path}: Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
    );
  }
  subdomain(path: string, name: string): void {
    const problem = dns1123SubdomainProblem(name);
    if (problem !== undefined) this.invalid(path, name, problem);
  }
}

function checkFieldPath(problems: Problems, path: string, fieldPath: string | undefined): void {
  if (!fieldPath) {
    problems.required(`${path}.fieldPath`);
    return;
  }
  const subscripted = SUBSCRIPTED.exec(fieldPath);
  if (subscripted) {
    if (subscripted[1] !== 'metadata.labels' && subscripted[1] !== 'metadata.annotations')
      problems.invalid(path, subscripted[1], 'does not support subscript');
    return;
  }
  if (!ENV_FIELD_PATHS.includes(fieldPath)) problems.notSupported(`${path}.fieldPath`, fieldPath, ENV_FIELD_PATHS);
}

function checkDivisor(problems: Problems, path: string, resource: string, divisor: string | number | undefined): void {
  if (divisor === undefined || parseQuantity(divisor) === 0) return;
  const allowed = (values: string[]) => values.some((v) => parseQuantity(v) === parseQuantity(divisor));
  const name = resource.slice(resource.indexOf('.') + 1);
  if (name === 'cpu') {
    if (!allowed(CPU_DIVISORS))
      problems.invalid(`${path}.divisor`, resource, "only divisor's values 1m and 1 are supported with the cpu resource");
    return;
  }
  const what =
    name === 'memory'
      ? 'the memory resource'
      : name === 'ephemeral-storage'
        ? 'the local ephemeral storage resource'
        : 'the hugepages resource';
  if (!allowed(BYTE_DIVISORS))
    problems.invalid(`${path}.divisor`, resource, `only divisor's values ${BYTE_DIVISORS.join(', ')} are supported with ${what}`);
}

/** A resourceFieldRef of env (`volume` false) or of a downwardAPI volume item (containerName required). */
export function resourceFieldProblems(path: string, selector: ResourceFieldSelector, volume = false): string[] {
  const problems = new Problems();
  if (volume && !selector.containerName) problems.required(`${path}.containerName`);
  else if (!selector.resource) problems.required(`${path}.resource`);
  else if (!isResourceField(selector.resource))
    problems.notSupported(`${path}.resource`, selector.resource, [
      ...RESOURCE_FIELDS,
      'requests.hugepages-<size>',
      'limits.hugepages-<size>',
    ]);
  else checkDivisor(problems, path, selector.resource, selector.divisor);
  return problems.list;
}

function checkKeySelector(problems: Problems, path: string, selector: { name?: string; key?: string }): void {
  problems.subdomain(`${path}.name`, selector.name ?? '');
  if (!selector.key) problems.required(`${path}.key`);
  else for (const message of configKeyProblems(selector.key)) problems.invalid(`${path}.key`, selector.key, message);
}

function checkEnvVar(problems: Problems, at: string, env: EnvVar): void {
  if (!env.name) problems.required(`${at}.name`);
  else if (!ENV_VAR_NAME.test(env.name)) problems.invalid(`${at}.name`, env.name, ENV_VAR_MESSAGE);
  const from = env.valueFrom;
  if (from === undefined) return;
  const path = `${at}.valueFrom`;
  const sources = (['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'] as const).filter((s) => from[s] !== undefined);
  if (from.fieldRef !== undefined) checkFieldPath(problems, `${path}.fieldRef`, from.fieldRef.fieldPath);
  if (from.resourceFieldRef !== undefined) problems.list.push(...resourceFieldProblems(`${path}.resourceFieldRef`, from.resourceFieldRef));
  if (from.configMapKeyRef !== undefined) checkKeySelector(problems, `${path}.configMapKeyRef`, from.configMapKeyRef);
  if (from.secretKeyRef !== undefined) checkKeySelector(problems, `${path}.secretKeyRef`, from.secretKeyRef);
  if (sources.length === 0)
    problems.invalid(path, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`');
  else if (env.value) problems.invalid(path, '', 'may not be specified when `value` is not empty');
  else if (sources.length > 1) problems.invalid(path, '', 'may not have more than one field specified at a time');
}

function checkEnvFrom(problems: Problems, path: string, i: number, from: EnvFromSource): void {
  const at = `${path}[${i}]`;
  if (from.prefix && !ENV_VAR_NAME.test(from.prefix)) problems.invalid(`${at}.prefix`, from.prefix, ENV_VAR_MESSAGE);
  const refs = (['configMapRef', 'secretRef'] as const).filter((r) => from[r] !== undefined);
  for (const ref of refs) {
    const name = from[ref]?.name;
    if (!name) problems.required(`${at}.${ref}.name`);
    else problems.subdomain(`${at}.${ref}.name`, name);
  }
  // The API server names the list, not the item, for these two.
  if (refs.length === 0) problems.invalid(path, '', 'must specify one of: `configMapRef` or `secretRef`');
  else if (refs.length > 1) problems.invalid(path, '', 'may not have more than one field specified at a time');
}

/** Every problem with the container's env and envFrom; `path` is the container's (`spec.containers[0]`). */
export function envProblems(path: string, container: Container): string[] {
  const problems = new Problems();
  for (const [i, env] of (container.env ?? []).entries()) checkEnvVar(problems, `${path}.env[${i}]`, env);
  for (const [i, from] of (container.envFrom ?? []).entries()) checkEnvFrom(problems, `${path}.envFrom`, i, from);
  return problems.list;
}
