// The checks the API server makes on a new Pod (ValidatePodCreate), for the fields berth reads,
// with the API's error wording (`<path>: Required value`, `Duplicate value: "x"`, …). Also the
// limits of berth itself, worded as Forbidden with the reason.
import type { Container, ContainerPort, LifecycleHandler, Pod, Probe } from '../k8s-types.ts';
import { parseQuantity } from '../quantity.ts';
import { dns1123LabelProblem, dns1123SubdomainProblem } from './dns-names.ts';
import { envProblems } from './env-validation.ts';
import { FieldErrors } from './field-errors.ts';
import { validateHostAliases } from './host-alias-validation.ts';
import { validateVolumes } from './volume-validation.ts';

const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function checkLabel(errors: FieldErrors, path: string, value: string): void {
  const problem = dns1123LabelProblem(value);
  if (problem !== undefined) errors.invalid(path, value, problem);
}

function checkSubdomain(errors: FieldErrors, path: string, value: string): void {
  const problem = dns1123SubdomainProblem(value);
  if (problem !== undefined) errors.invalid(path, value, problem);
}

function checkSupported(errors: FieldErrors, path: string, value: string | undefined, supported: readonly string[]): void {
  if (value !== undefined && !supported.includes(value)) errors.notSupported(path, value, supported);
}

function checkNonNegative(errors: FieldErrors, path: string, value: number | undefined): void {
  if (value !== undefined && value < 0) errors.invalid(path, value, 'must be greater than or equal to 0');
}

function checkPortNumber(errors: FieldErrors, path: string, value: number): void {
  if (value < 1 || value > 65535) errors.invalid(path, value, 'must be between 1 and 65535, inclusive');
}

function checkPortNumOrName(errors: FieldErrors, path: string, value: number | string): void {
  if (typeof value === 'number') checkPortNumber(errors, path, value);
  else if (value.length > 15 || !IANA_SVC_NAME.test(value) || !/[a-z]/.test(value) || value.includes('--')) {
    errors.invalid(
      path,
      value,
      'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, with at least one letter',
    );
  }
}

function checkProbe(errors: FieldErrors, path: string, probe: Probe, kind: 'liveness' | 'readiness' | 'startup'): void {
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length === 0) errors.required(path, 'must specify a handler type');
  if (handlers.length > 1) errors.forbidden(`${path}.${handlers[1]}`, 'may not specify more than 1 handler type');
  if (probe.exec !== undefined && (probe.exec.command ?? []).length === 0) errors.required(`${path}.exec.command`);
  if (probe.httpGet !== undefined) {
    checkPortNumOrName(errors, `${path}.httpGet.port`, probe.httpGet.port);
    checkSupported(errors, `${path}.httpGet.scheme`, probe.httpGet.scheme, ['HTTP', 'HTTPS']);
  }
  if (probe.tcpSocket !== undefined) checkPortNumOrName(errors, `${path}.tcpSocket.port`, probe.tcpSocket.port);
  if (probe.grpc !== undefined) checkPortNumber(errors, `${path}.grpc.port`, probe.grpc.port);
  for (const field of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    checkNonNegative(errors, `${path}.${field}`, probe[field]);
  }
  if (probe.terminationGracePeriodSeconds !== undefined && probe.terminationGracePeriodSeconds <= 0) {
    errors.invalid(`${path}.terminationGracePeriodSeconds`, probe.terminationGracePeriodSeconds, 'must be greater than 0');
  }
  if (kind !== 'readiness' && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errors.invalid(`${path}.successThreshold`, probe.successThreshold, 'must be 1');
  }
}

const HTTP_HEADER_NAME = /^[-A-Za-z0-9]+$/;

/** A postStart or preStop handler (validateHandler): exactly one action; sleep within the grace period. tcpSocket is accepted unchecked, as by the API. */
function checkLifecycleHandler(errors: FieldErrors, path: string, handler: LifecycleHandler, graceSeconds: number | undefined): void {
  const actions = (['exec', 'httpGet', 'tcpSocket', 'sleep'] as const).filter((h) => handler[h] !== undefined && handler[h] !== null);
  if (actions.length === 0) errors.required(path, 'must specify a handler type');
  for (const extra of actions.slice(1)) errors.forbidden(`${path}.${extra}`, 'may not specify more than 1 handler type');
  const action = actions[0];
  if (action === 'exec' && (handler.exec?.command ?? []).length === 0) errors.required(`${path}.exec.command`);
  if (action === 'httpGet' && handler.httpGet !== undefined) {
    const http = handler.httpGet;
    if (!http.path) errors.required(`${path}.httpGet.path`);
    checkPortNumOrName(errors, `${path}.httpGet.port`, http.port);
    if (!['HTTP', 'HTTPS'].includes(http.scheme ?? '')) errors.notSupported(`${path}.httpGet.scheme`, http.scheme ?? '', ['HTTP', 'HTTPS']);
    for (const header of http.httpHeaders ?? []) {
      if (!HTTP_HEADER_NAME.test(header.name)) {
        errors.invalid(
          `${path}.httpGet.httpHeaders`,
          header.name,
          "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
        );
      }
    }
  }
  if (action === 'sleep' && handler.sleep !== undefined && graceSeconds !== undefined) {
    const seconds = handler.sleep.seconds;
    if (!(seconds > 0) || seconds > graceSeconds) {
      errors.invalid(`${path}.sleep`, seconds, `must be greater than 0 and less than terminationGracePeriodSeconds (${graceSeconds})`);
    }
  }
}

/** A container's postStart and preStop hooks (validateLifecycle); init containers may have none. */
function checkLifecycle(errors: FieldErrors, path: string, container: Container, init: boolean, graceSeconds: number | undefined): void {
  if (container.lifecycle === undefined || container.lifecycle === null) return;
  if (init && container.restartPolicy !== 'Always') {
    errors.forbidden(`${path}.lifecycle`, 'may not be set for init containers without restartPolicy=Always');
    return;
  }
  for (const hook of ['postStart', 'preStop'] as const) {
    const handler = container.lifecycle[hook];
    if (handler !== undefined && handler !== null) checkLifecycleHandler(errors, `${path}.lifecycle.${hook}`, handler, graceSeconds);
  }
}

function checkPorts(errors: FieldErrors, path: string, ports: ContainerPort[], hostNetwork: boolean, hostPorts: Set<string>): void {
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const at = `${path}[${i}]`;
    if (port.name !== undefined) {
      checkPortNumOrName(errors, `${at}.name`, port.name);
      if (names.has(port.name)) errors.duplicate(`${at}.name`, port.name);
      names.add(port.name);
    }
    if (port.containerPort === undefined) errors.required(`${at}.containerPort`);
    else checkPortNumber(errors, `${at}.containerPort`, port.containerPort);
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      checkPortNumber(errors, `${at}.hostPort`, port.hostPort);
      if (hostNetwork && port.hostPort !== port.containerPort) {
        errors.invalid(`${at}.containerPort`, port.containerPort, 'must match `hostPort` when `hostNetwork` is true');
      }
      const key = `${port.hostIP ?? ''}/${port.hostPort}/${port.protocol ?? 'TCP'}`;
      if (hostPorts.has(key)) errors.duplicate(`${at}.hostPort`, `${port.hostPort}/${port.protocol ?? 'TCP'}`);
      hostPorts.add(key);
    }
    checkSupported(errors, `${at}.protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']);
  });
}

function checkResources(errors: FieldErrors, path: string, container: Container): void {
  const { limits = {}, requests = {} } = container.resources ?? {};
  for (const [name, request] of Object.entries(requests)) {
    const limit = limits[name];
    if (limit !== undefined && parseQuantity(request) > parseQuantity(limit)) {
      errors.invalid(`${path}.requests[${name}]`, String(request), `must be less than or equal to ${name} limit of ${limit}`);
    }
  }
}

function checkContainer(
  errors: FieldErrors,
  path: string,
  container: Container,
  init: boolean,
  hostNetwork: boolean,
  hostPorts: Set<string>,
): void {
  if (!container.name) errors.required(`${path}.name`);
  else checkLabel(errors, `${path}.name`, container.name);
  if (!container.image || container.image.trim() === '') errors.required(`${path}.image`);
  else if (container.image !== container.image.trim())
    errors.invalid(`${path}.image`, container.image, 'must not have leading or trailing whitespace');
  checkSupported(errors, `${path}.imagePullPolicy`, container.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']);
  checkSupported(errors, `${path}.terminationMessagePolicy`, container.terminationMessagePolicy, ['File', 'FallbackToLogsOnError']);
  checkPorts(errors, `${path}.ports`, container.ports ?? [], hostNetwork, hostPorts);
  errors.list.push(...envProblems(path, container));
  checkResources(errors, `${path}.resources`, container);
  for (const [field, kind] of [
    ['livenessProbe', 'liveness'],
    ['readinessProbe', 'readiness'],
    ['startupProbe', 'startup'],
  ] as const) {
    const probe = container[field];
    if (probe === undefined) continue;
    if (init && container.restartPolicy !== 'Always') {
      errors.forbidden(`${path}.${field}`, 'may not be set for init containers without restartPolicy=Always');
    } else checkProbe(errors, `${path}.${field}`, probe, kind);
  }
  if (container.restartPolicy !== undefined) {
    if (!init) errors.forbidden(`${path}.restartPolicy`, 'may not be set for non-init containers');
    else if (container.restartPolicy !== 'Always') errors.notSupported(`${path}.restartPolicy`, container.restartPolicy, ['Always']);
  }
}

/** Every problem with `pod`, one line each; empty when it may run. */
export function validatePod(pod: Pod): string[] {
  const errors = new FieldErrors();
  const { metadata, spec } = pod;
  if (!metadata.name) errors.required('metadata.name', 'name or generateName is required');
  else checkSubdomain(errors, 'metadata.name', metadata.name);
  if (metadata.namespace) checkLabel(errors, 'metadata.namespace', metadata.namespace);
  const hostNetwork = spec.hostNetwork === true;
  const names = new Set<string>();
  const hostPorts = new Set<string>();
  const groups = [
    ['spec.initContainers', spec.initContainers ?? [], true],
    ['spec.containers', spec.containers ?? [], false],
  ] as const;
  for (const [path, containers, init] of groups) {
    containers.forEach((container, i) => {
      checkContainer(errors, `${path}[${i}]`, container, init, hostNetwork, hostPorts);
      checkLifecycle(errors, `${path}[${i}]`, container, init, spec.terminationGracePeriodSeconds);
      if (container.name && names.has(container.name)) errors.duplicate(`${path}[${i}].name`, container.name);
      if (container.name) names.add(container.name);
    });
  }
  if ((spec.containers ?? []).length === 0) errors.required('spec.containers');
  checkSupported(errors, 'spec.restartPolicy', spec.restartPolicy, ['Always', 'OnFailure', 'Never']);
  checkSupported(errors, 'spec.dnsPolicy', spec.dnsPolicy, ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']);
  if (spec.dnsPolicy === 'None') {
    if (spec.dnsConfig === undefined) errors.required('spec.dnsConfig', 'must provide `dnsConfig` when `dnsPolicy` is None');
    else if ((spec.dnsConfig.nameservers ?? []).length === 0)
      errors.required('spec.dnsConfig.nameservers', 'must provide at least one DNS nameserver when `dnsPolicy` is None');
  }
  if ((spec.dnsConfig?.nameservers ?? []).length > 3)
    errors.invalid('spec.dnsConfig.nameservers', spec.dnsConfig?.nameservers, 'must not have more than 3 nameservers');
  checkNonNegative(errors, 'spec.terminationGracePeriodSeconds', spec.terminationGracePeriodSeconds);
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errors.invalid('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive');
  }
  if (spec.hostname !== undefined) checkLabel(errors, 'spec.hostname', spec.hostname);
  if (spec.subdomain !== undefined) checkLabel(errors, 'spec.subdomain', spec.subdomain);
  validateHostAliases(errors, spec.hostAliases);
  errors.list.push(...validateVolumes(spec));
  return errors.list;
}
