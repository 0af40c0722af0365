// A pod's v1 status from its runtime state, as the kubelet generates it
// (convertToAPIContainerStatuses, getPhase, the status conditions): the newest container of each
// name gives the state, the one before it the last state; a container that will be restarted and
// whose last start failed shows the failure as its waiting reason.

import { k8sTime } from '../../agent/k8s-time.ts';
import type { Container, ContainerState, ContainerStatus, Pod, PodStatus } from '../../agent/k8s-types.ts';
import { podConditions, withTransitionTimes } from '../../agent/pod-conditions.ts';
import { podPhase } from '../../agent/pod-phase.ts';
import { podQosClass } from '../../agent/pod-qos.ts';
import { isSidecar } from './init-container-actions.ts';
import { sandboxChanged, shouldContainerBeRestarted } from './pod-actions.ts';
import type { RuntimeContainer, RuntimePodState } from './runtime-state.ts';
import type { SyncReason } from './sync-reasons.ts';
import { limitTerminationMessages } from './termination-message.ts';

export interface PodStatusInputs {
  pod: Pod;
  state: RuntimePodState;
  /** The last sync's failure per container name. */
  reasons: ReadonlyMap<string, SyncReason>;
  /** The status reported before (for transition times, IPs and restart counts of removed containers). */
  previous?: PodStatus;
  /** The node's address. */
  hostIP?: string;
  now: number;
}

/** A CRI runtime's container ID as Kubernetes writes it. */
export function containerIdUri(id: string, runtimeName = 'containerd'): string {
  return `${runtimeName}://${id}`;
}

function stateOf(c: RuntimeContainer, runtimeName: string): ContainerState {
  switch (c.state) {
    case 'running':
      return { running: { startedAt: k8sTime(c.startedAt) } };
    case 'exited':
      return {
        terminated: {
          exitCode: c.exitCode,
          reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
          ...(c.message ? { message: c.message } : {}),
          startedAt: k8sTime(c.startedAt || c.createdAt),
          finishedAt: k8sTime(c.finishedAt || c.startedAt || c.createdAt),
          containerID: containerIdUri(c.id, runtimeName),
        },
      };
    default:
      return { waiting: {} };
  }
}

function containerStatuses(
  inputs: PodStatusInputs,
  containers: Container[],
  previous: ContainerStatus[] | undefined,
  init: boolean,
  runtimeName: string,
): ContainerStatus[] {
  const { pod, state, reasons } = inputs;
  const defaultReason = (pod.spec.initContainers ?? []).length > 0 ? 'PodInitializing' : 'ContainerCreating';
  const statuses = new Map<string, ContainerStatus>();
  for (const container of containers) {
    const old = previous?.find((s) => s.name === container.name);
    statuses.set(container.name, {
      name: container.name,
      state: { waiting: { reason: defaultReason } },
      lastState: old?.lastState ?? {},
      ready: false,
      restartCount: old?.restartCount ?? 0,
      image: container.image ?? '',
      imageID: '',
      started: false,
    });
  }
  const seen = new Map<string, number>();
  for (const c of state.containers) {
    const status = statuses.get(c.name);
    const count = seen.get(c.name) ?? 0;
    if (status === undefined || count >= 2) continue;
    seen.set(c.name, count + 1);
    if (count === 1) {
      status.lastState = stateOf(c, runtimeName);
      continue;
    }
    status.state = stateOf(c, runtimeName);
    status.lastState = {};
    status.restartCount = c.restartCount;
    status.imageID = c.imageRef;
    status.containerID = containerIdUri(c.id, runtimeName);
    status.started = c.state === 'running';
    // A regular init container is ready once it succeeded; a sidecar, like an app container, while it runs.
    const spec = containers.find((x) => x.name === c.name);
    status.ready = init && spec !== undefined && !isSidecar(spec) ? c.state === 'exited' && c.exitCode === 0 : c.state === 'running';
  }
  for (const container of containers) {
    const newest = state.containers.find((c) => c.name === container.name);
    if (init && !isSidecar(container) && newest?.state === 'exited' && newest.exitCode === 0) continue;
    if (!shouldContainerBeRestarted(container, pod, state)) continue;
    const reason = reasons.get(container.name);
    if (reason === undefined) continue;
    const status = statuses.get(container.name)!;
    if (status.state.terminated !== undefined) status.lastState = status.state;
    status.state = { waiting: { reason: reason.reason, message: reason.message } };
    status.ready = false;
    status.started = false;
  }
  const list = [...statuses.values()];
  return init ? list : list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function runtimePodStatus(inputs: PodStatusInputs, runtimeName = 'containerd'): PodStatus {
  const { pod, state, previous, hostIP } = inputs;
  const initStatuses = containerStatuses(inputs, pod.spec.initContainers ?? [], previous?.initContainerStatuses, true, runtimeName);
  const statuses = containerStatuses(inputs, pod.spec.containers, previous?.containerStatuses, false, runtimeName);
  const phase = podPhase(pod.spec, initStatuses, statuses);
  const sandboxReady = state.sandboxes.length > 0 && !sandboxChanged(pod, state).changed;
  const conditions = withTransitionTimes(
    podConditions({ spec: pod.spec, phase, initStatuses, statuses, sandboxReady }),
    previous?.conditions,
    k8sTime(inputs.now),
  );
  const latest = state.sandboxes[0];
  let podIPs = latest?.ready ? latest.ips : [];
  if (pod.spec.hostNetwork && hostIP) podIPs = [hostIP];
  if (podIPs.length === 0 && previous?.podIPs !== undefined) podIPs = previous.podIPs.map((p) => p.ip);
  const oldest = state.sandboxes.at(-1);
  const startTime = previous?.startTime ?? (oldest !== undefined ? k8sTime(oldest.createdAt) : k8sTime(inputs.now));
  return limitTerminationMessages(pod, {
    phase,
    conditions,
    ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }] } : {}),
    ...(podIPs.length > 0 ? { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) } : {}),
    startTime,
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    qosClass: podQosClass(pod.spec),
  });
}
