// Validation of status writes (ValidatePodStatusUpdate, ValidateNodeUpdate): what the API
// server answers 422 Invalid to, as a node's status writes meet it.
import { isIP } from 'node:net';
import { invalid } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import { isQuantity } from './quantity.ts';

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];
const CONDITION_STATUSES = ['True', 'False', 'Unknown'];
const ADDRESS_TYPES = ['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS'];
const terminal = (phase: unknown) => phase === 'Succeeded' || phase === 'Failed';
const json = (v: unknown) => JSON.stringify(v);

function checkConditions(field: string, conditions: Loose[] | undefined, errors: string[]): void {
  const seen = new Set<string>();
  (conditions ?? []).forEach((c, i) => {
    if (!c.type) errors.push(`${field}[${i}].type: Required value`);
    if (!CONDITION_STATUSES.includes(c.status))
      errors.push(`${field}[${i}].status: Unsupported value: ${json(c.status)}: supported values: "False", "True", "Unknown"`);
    if (seen.has(c.type)) errors.push(`${field}[${i}].type: Duplicate value: ${json(c.type)}`);
    seen.add(c.type);
  });
}

function checkContainerStatuses(field: string, statuses: Loose[] | undefined, containers: Loose[], errors: string[]): void {
  const names = new Set(containers.map((c) => c.name));
  (statuses ?? []).forEach((s, i) => {
    if (!names.has(s.name)) errors.push(`${field}[${i}].name: NotFound: ${json(s.name)}`);
    if (typeof s.restartCount === 'number' && s.restartCount < 0)
      errors.push(`${field}[${i}].restartCount: Invalid value: ${s.restartCount}: must be greater than or equal to 0`);
    const states = ['waiting', 'running', 'terminated'].filter((k) => s.state?.[k] !== undefined);
    if (states.length > 1) errors.push(`${field}[${i}].state: Forbidden: may not specify more than 1 state type`);
  });
}

/** A container that terminated may not run again under restartPolicy Never (or OnFailure after exit 0). */
function checkContainerTransitions(
  field: string,
  next: Loose[] | undefined,
  old: Loose[] | undefined,
  restartPolicy: string,
  errors: string[],
) {
  if (restartPolicy === 'Always') return;
  (next ?? []).forEach((s, i) => {
    const before = (old ?? []).find((o) => o.name === s.name)?.state?.terminated;
    if (before === undefined || s.state?.terminated !== undefined) return;
    if (restartPolicy === 'Never' || before.exitCode === 0)
      errors.push(`${field}[${i}].state: Forbidden: may not be transitioned to non-terminated state`);
  });
}

export function validatePodStatusUpdate(next: ApiObject, old: ApiObject): void {
  const status = (next.status ?? {}) as Loose;
  const oldStatus = (old.status ?? {}) as Loose;
  const spec = (old.spec ?? {}) as Loose;
  const errors: string[] = [];
  if (status.phase !== undefined && !PHASES.includes(status.phase))
    errors.push(`status.phase: Unsupported value: ${json(status.phase)}: supported values: ${PHASES.map(json).join(', ')}`);
  if (terminal(oldStatus.phase) && status.phase !== oldStatus.phase)
    errors.push(`status.phase: Forbidden: cannot transition from terminal phase ${oldStatus.phase} to ${status.phase}`);
  if (oldStatus.qosClass !== undefined && status.qosClass !== oldStatus.qosClass)
    errors.push(`status.qosClass: Invalid value: ${json(status.qosClass)}: field is immutable`);
  checkConditions('status.conditions', status.conditions, errors);
  const podIPs: Loose[] = status.podIPs ?? [];
  podIPs.forEach((p, i) => {
    if (!isIP(p.ip ?? '')) errors.push(`status.podIPs[${i}].ip: Invalid value: ${json(p.ip)}: must be a valid IP address`);
  });
  if (status.podIP !== undefined && status.podIP !== '' && !isIP(status.podIP))
    errors.push(`status.podIP: Invalid value: ${json(status.podIP)}: must be a valid IP address`);
  if (podIPs.length > 0 && status.podIP !== podIPs[0]!.ip) errors.push(`status.podIPs[0].ip: Invalid value: must match status.podIP`);
  for (const [i, h] of ((status.hostIPs ?? []) as Loose[]).entries())
    if (!isIP(h.ip ?? '')) errors.push(`status.hostIPs[${i}].ip: Invalid value: ${json(h.ip)}: must be a valid IP address`);
  checkContainerStatuses('status.containerStatuses', status.containerStatuses, spec.containers ?? [], errors);
  checkContainerStatuses('status.initContainerStatuses', status.initContainerStatuses, spec.initContainers ?? [], errors);
  const policy = spec.restartPolicy ?? 'Always';
  checkContainerTransitions('status.containerStatuses', status.containerStatuses, oldStatus.containerStatuses, policy, errors);
  if (errors.length > 0) throw invalid('Pod', next.metadata.name ?? '', errors);
}

export function validateNodeStatus(next: ApiObject): void {
  const status = (next.status ?? {}) as Loose;
  const errors: string[] = [];
  checkConditions('status.conditions', status.conditions, errors);
  ((status.addresses ?? []) as Loose[]).forEach((a, i) => {
    if (!ADDRESS_TYPES.includes(a.type)) errors.push(`status.addresses[${i}].type: Unsupported value: ${json(a.type)}`);
    if (!a.address) errors.push(`status.addresses[${i}].address: Required value`);
    else if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && !isIP(a.address))
      errors.push(`status.addresses[${i}].address: Invalid value: ${json(a.address)}: must be a valid IP address`);
  });
  for (const list of ['capacity', 'allocatable']) {
    for (const [name, value] of Object.entries((status[list] ?? {}) as Record<string, unknown>)) {
      if (!isQuantity(value)) errors.push(`status.${list}[${name}]: Invalid value: ${json(value)}: must be a quantity`);
      else if (String(value).startsWith('-'))
        errors.push(`status.${list}[${name}]: Invalid value: ${json(value)}: must be greater than or equal to 0`);
    }
  }
  const port = status.daemonEndpoints?.kubeletEndpoint?.Port;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    errors.push(`status.daemonEndpoints.kubeletEndpoint.Port: Invalid value: ${json(port)}: must be between 0 and 65535, inclusive`);
  if (errors.length > 0) throw invalid('Node', next.metadata.name ?? '', errors);
}
