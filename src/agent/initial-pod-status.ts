// The status of a pod the provider has not reported yet: Pending, containers waiting to be created.
import type { Container, ContainerStatus, Pod, PodStatus } from './k8s-types.ts';
import { podConditions, withTransitionTimes } from './pod-conditions.ts';
import { podPhase } from './pod-phase.ts';

function waiting(container: Container, reason: string): ContainerStatus {
  return {
    name: container.name,
    state: { waiting: { reason } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: container.image ?? '',
    imageID: '',
    started: false,
  };
}

export function initialPodStatus(pod: Pod, now: string, hostIP?: string): PodStatus {
  const reason = (pod.spec.initContainers ?? []).length > 0 ? 'PodInitializing' : 'ContainerCreating';
  const initStatuses = (pod.spec.initContainers ?? []).map((c) => waiting(c, reason));
  const statuses = pod.spec.containers.map((c) => waiting(c, reason)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const phase = podPhase(pod.spec, initStatuses, statuses);
  const conditions = podConditions({ spec: pod.spec, phase, initStatuses, statuses, sandboxReady: false });
  return {
    phase,
    conditions: withTransitionTimes(conditions, undefined, now),
    ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }] } : {}),
    startTime: now,
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
  };
}
