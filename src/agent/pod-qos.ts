// A pod's quality-of-service class from its containers' requests and limits (v1qos.GetPodQOS).
import type { PodSpec } from './k8s-types.ts';
import { parseQuantity } from './quantity.ts';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'] as const;

export function podQosClass(spec: PodSpec): QosClass {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const limitsFound = new Set<string>();
    for (const name of QOS_RESOURCES) {
      const request = container.resources?.requests?.[name];
      if (request !== undefined && parseQuantity(request) > 0) requests.set(name, (requests.get(name) ?? 0) + parseQuantity(request));
      const limit = container.resources?.limits?.[name];
      if (limit !== undefined && parseQuantity(limit) > 0) {
        limitsFound.add(name);
        limits.set(name, (limits.get(name) ?? 0) + parseQuantity(limit));
      }
    }
    if (limitsFound.size < QOS_RESOURCES.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, request] of requests) {
      if (limits.get(name) !== request) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
