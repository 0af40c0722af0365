// A pod's status with the prober's results applied, as the kubelet's status manager does:
// a container with a startup probe has started only once that probe succeeded, a container with
// a readiness probe is ready only while it succeeds; the Ready conditions follow.
import type { Container, ContainerStatus, Pod, PodCondition, PodStatus } from '../k8s-types.ts';
import { podConditions, withTransitionTimes } from '../pod-conditions.ts';
import type { ProbeKind, ProbeResult } from './probe-tracker.ts';

export type ProbeResults = (containerID: string, kind: ProbeKind) => ProbeResult | undefined;

function probed(containers: readonly Container[], statuses: readonly ContainerStatus[], results: ProbeResults): ContainerStatus[] {
  return statuses.map((cs) => {
    const container = containers.find((c) => c.name === cs.name);
    if (container === undefined || cs.containerID === undefined) return cs;
    const running = cs.state.running !== undefined;
    const started = running && (container.startupProbe === undefined || results(cs.containerID, 'startup') === 'success');
    const ready = started && (container.readinessProbe === undefined || results(cs.containerID, 'readiness') === 'success');
    return { ...cs, started, ready };
  });
}

export function withProbeResults(
  pod: Pod,
  status: PodStatus,
  results: ProbeResults,
  previousConditions: readonly PodCondition[] | undefined,
  now: string,
): PodStatus {
  const statuses = probed(pod.spec.containers, status.containerStatuses ?? [], results);
  // Sidecars are probed as app containers are; other init containers have no probes.
  const sidecars = (pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  const initStatuses = probed(sidecars, status.initContainerStatuses ?? [], results);
  const phase = status.phase ?? 'Pending';
  const sandboxReady = status.conditions?.find((c) => c.type === 'PodReadyToStartContainers')?.status === 'True';
  const conditions = podConditions({ spec: pod.spec, phase, initStatuses, statuses, sandboxReady });
  return {
    ...status,
    ...(status.initContainerStatuses !== undefined ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    conditions: withTransitionTimes(conditions, previousConditions ?? status.conditions, now),
  };
}
