// The downward API's resourceFieldRef, as the kubelet computes it for env and downwardAPI volumes:
// a container's request or limit divided by the divisor and rounded up; a limit the container does
// not set (or sets to zero) is the node's allocatable amount.
import { invalidArgument } from '../errors/errors.ts';
import type { Container, Pod, ResourceFieldSelector } from './k8s-types.ts';
import { milliValue, parseQuantity, wholeValue } from './quantity.ts';

/** The resources whose missing limit defaults to the node's allocatable (hugepages never do: they are not overcommitted). */
const DEFAULTED_LIMITS = ['cpu', 'memory', 'ephemeral-storage'] as const;

/** The resources a resourceFieldRef may name, besides `requests.hugepages-<size>` and `limits.hugepages-<size>`. */
export const RESOURCE_FIELDS = [
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
] as const;

const HUGEPAGES_FIELD = /^(limits|requests)\.(hugepages-.+)$/;

/** Whether `resource` is one a resourceFieldRef may name (the API server's list). */
export function isResourceField(resource: string): boolean {
  return (RESOURCE_FIELDS as readonly string[]).includes(resource) || HUGEPAGES_FIELD.test(resource);
}

/** The container's limits with cpu, memory and ephemeral-storage filled in from `allocatable` where unset or zero. */
export function limitsWithAllocatable(container: Container, allocatable: Record<string, string | number>): Record<string, string | number> {
  const limits = { ...container.resources?.limits };
  for (const name of DEFAULTED_LIMITS) {
    const limit = limits[name];
    const node = allocatable[name];
    if ((limit === undefined || parseQuantity(limit) === 0) && node !== undefined) limits[name] = node;
  }
  return limits;
}

function targetContainer(selector: ResourceFieldSelector, pod: Pod, container: Container | undefined): Container {
  if (!selector.containerName) {
    if (container === undefined)
      throw invalidArgument('resource-field-container', 'resourceFieldRef: containerName is required', { fields: {} });
    return container;
  }
  const found = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].find((c) => c.name === selector.containerName);
  if (found === undefined)
    throw invalidArgument('resource-field-container', `container ${selector.containerName} not found`, {
      fields: { containerName: selector.containerName },
    });
  return found;
}

/**
 * The value of a resourceFieldRef, as the kubelet writes it: CPU in whole divisor units rounded up
 * (millicores compared), memory, ephemeral storage and hugepages in bytes divided by the divisor and
 * rounded up. `container` is the one asking (env); a selector with containerName names another
 * (a downwardAPI volume always does, and passes `container` undefined). `allocatable` is the node's
 * (cpu, memory, ephemeral-storage as quantities).
 */
export function resourceFieldValue(
  selector: ResourceFieldSelector,
  pod: Pod,
  container: Container | undefined,
  allocatable: Record<string, string | number>,
): string {
  const target = targetContainer(selector, pod, container);
  const divisor = selector.divisor === undefined || parseQuantity(selector.divisor) === 0 ? 1 : selector.divisor;
  const [kind, name] = splitResource(selector.resource);
  const amounts = kind === 'limits' ? limitsWithAllocatable(target, allocatable) : { ...target.resources?.requests };
  const amount = amounts[name] ?? 0;
  if (name === 'cpu') return String(Math.ceil(milliValue(amount) / milliValue(divisor)));
  return String(Math.ceil(wholeValue(amount) / wholeValue(divisor)));
}

function splitResource(resource: string): ['limits' | 'requests', string] {
  if (isResourceField(resource)) {
    const dot = resource.indexOf('.');
    return [resource.slice(0, dot) as 'limits' | 'requests', resource.slice(dot + 1)];
  }
  throw invalidArgument('unsupported-resource-field', `unsupported container resource : ${resource}`, { fields: { resource } });
}
