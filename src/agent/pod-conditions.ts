// The pod conditions the kubelet reports (pkg/kubelet/status/generate.go), and their transition times.
import type { ContainerStatus, PodCondition, PodPhase, PodSpec } from './k8s-types.ts';
import { anyAppContainerStarted } from './pod-phase.ts';

/** Go prints a []string as `[a b]`; the kubelet's messages carry that form. */
function goList(names: string[]): string {
  return `[${names.join(' ')}]`;
}

function find(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((s) => s.name === name);
}

export function initializedCondition(
  spec: PodSpec,
  initStatuses: readonly ContainerStatus[],
  statuses: readonly ContainerStatus[],
  phase: PodPhase,
): PodCondition {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const container of spec.initContainers ?? []) {
    const s = find(initStatuses, container.name);
    if (s === undefined) unknown.push(container.name);
    else if (container.restartPolicy === 'Always') {
      if (s.started !== true) incomplete.push(container.name); // a sidecar is done once started
    } else if (s.state.terminated === undefined || s.state.terminated.exitCode !== 0) incomplete.push(container.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  if (anyAppContainerStarted(spec, statuses)) return { type: 'Initialized', status: 'True' };
  const messages = [
    ...(unknown.length > 0 ? [`containers with unknown status: ${goList(unknown)}`] : []),
    ...(incomplete.length > 0 ? [`containers with incomplete status: ${goList(incomplete)}`] : []),
  ];
  if (messages.length > 0)
    return { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: messages.join(', ') };
  return { type: 'Initialized', status: 'True' };
}

export function containersReadyCondition(
  spec: PodSpec,
  statuses: readonly ContainerStatus[],
  phase: PodPhase,
  initStatuses: readonly ContainerStatus[] = [],
): PodCondition {
  const unknown: string[] = [];
  const unready: string[] = [];
  // Sidecars count as app containers do.
  for (const container of spec.initContainers ?? []) {
    if (container.restartPolicy !== 'Always') continue;
    const s = find(initStatuses, container.name);
    if (s === undefined) unknown.push(container.name);
    else if (!s.ready) unready.push(container.name);
  }
  for (const container of spec.containers) {
    const s = find(statuses, container.name);
    if (s === undefined) unknown.push(container.name);
    else if (!s.ready) unready.push(container.name);
  }
  if ((phase === 'Succeeded' && unknown.length === 0) || phase === 'Failed') {
    return { type: 'ContainersReady', status: 'False', reason: phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed' };
  }
  const messages = [
    ...(unknown.length > 0 ? [`containers with unknown status: ${goList(unknown)}`] : []),
    ...(unready.length > 0 ? [`containers with unready status: ${goList(unready)}`] : []),
  ];
  if (messages.length > 0) return { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: messages.join(', ') };
  return { type: 'ContainersReady', status: 'True' };
}

export function readyCondition(containersReady: PodCondition): PodCondition {
  return { ...containersReady, type: 'Ready' };
}

export interface ConditionInputs {
  spec: PodSpec;
  phase: PodPhase;
  initStatuses: readonly ContainerStatus[];
  statuses: readonly ContainerStatus[];
  /** The sandbox exists with its network set up (PodReadyToStartContainers). */
  sandboxReady: boolean;
}

/** PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady, Ready — in the kubelet's order. */
export function podConditions(inputs: ConditionInputs): PodCondition[] {
  const containersReady = containersReadyCondition(inputs.spec, inputs.statuses, inputs.phase, inputs.initStatuses);
  return [
    { type: 'PodReadyToStartContainers', status: inputs.sandboxReady ? 'True' : 'False' },
    initializedCondition(inputs.spec, inputs.initStatuses, inputs.statuses, inputs.phase),
    readyCondition(containersReady),
    containersReady,
    { type: 'PodScheduled', status: 'True' },
  ];
}

/**
 * Conditions with lastTransitionTime: kept from `previous` while a condition's status stays the
 * same, `now` when it changes or is new (what the kubelet's status manager does).
 */
export function withTransitionTimes(
  conditions: PodCondition[],
  previous: readonly PodCondition[] | undefined,
  now: string,
): PodCondition[] {
  return conditions.map((condition) => {
    const old = previous?.find((p) => p.type === condition.type);
    const lastTransitionTime =
      old !== undefined && old.status === condition.status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now;
    return { ...condition, lastProbeTime: null, lastTransitionTime };
  });
}
