// What to do to bring a pod's runtime state to its spec — the kubelet's computePodActions
// (pkg/kubelet/kuberuntime/kuberuntime_manager.go), as a pure function of the spec and the
// observed state. Back-off is not decided here: it applies when a container is started.
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { computeInitContainerActions, isSidecar } from './init-container-actions.ts';
import { newestContainer, type RuntimeContainer, type RuntimePodState } from './runtime-state.ts';

export interface ContainerToKill {
  id: string;
  name: string;
  /** Why, for the log: "Container app definition changed", … */
  reason: string;
}

export interface PodActions {
  /** Stop every container and the sandbox (before a new sandbox, or because the pod is done). */
  killPod: boolean;
  /** Run a new sandbox (with `attempt`) and start containers in it. */
  createSandbox: boolean;
  /** The sandbox to start containers in, when not creating one. */
  sandboxId: string;
  attempt: number;
  /** Init containers to start, by name, in spec order: the next one, and sidecars to (re)start. */
  initContainersToStart: string[];
  /** App containers to start, by name, in spec order. */
  containersToStart: string[];
  containersToKill: ContainerToKill[];
}

type RestartPolicy = NonNullable<Pod['spec']['restartPolicy']>;

function restartPolicy(pod: Pod): RestartPolicy {
  return pod.spec.restartPolicy ?? 'Always';
}

function shouldRestartOnFailure(pod: Pod): boolean {
  return restartPolicy(pod) !== 'Never';
}

function containerSucceeded(container: Container, state: RuntimePodState): boolean {
  const status = newestContainer(state, container.name);
  return status !== undefined && status.state === 'exited' && status.exitCode === 0;
}

/** Whether a container that is not running should be (re)started, per restartPolicy (kubecontainer.ShouldContainerBeRestarted); sidecars always are. */
export function shouldContainerBeRestarted(container: Container, pod: Pod, state: RuntimePodState): boolean {
  if (pod.metadata.deletionTimestamp !== undefined) return false;
  const status = newestContainer(state, container.name);
  if (status === undefined) return true;
  if (status.state === 'running') return false;
  if (status.state === 'unknown' || status.state === 'created' || isSidecar(container)) return true;
  if (restartPolicy(pod) === 'Never') return false;
  if (restartPolicy(pod) === 'OnFailure') return status.exitCode !== 0;
  return true;
}

/** Whether the pod needs a new sandbox, with the attempt it gets and the current one (PodSandboxChanged). */
export function sandboxChanged(pod: Pod, state: RuntimePodState): { changed: boolean; attempt: number; sandboxId: string } {
  const latest = state.sandboxes[0];
  if (latest === undefined) return { changed: true, attempt: 0, sandboxId: '' };
  const next = latest.attempt + 1;
  if (state.sandboxes.filter((s) => s.ready).length > 1) return { changed: true, attempt: next, sandboxId: latest.id };
  if (!latest.ready) return { changed: true, attempt: next, sandboxId: latest.id };
  if (latest.hostNetwork !== (pod.spec.hostNetwork === true)) return { changed: true, attempt: next, sandboxId: '' };
  if (!latest.hostNetwork && latest.ips.length === 0) return { changed: true, attempt: next, sandboxId: latest.id };
  return { changed: false, attempt: latest.attempt, sandboxId: latest.id };
}

/** A regular container was created, ran or runs: initialisation happened once (hasAnyRegularContainerCreated). */
function anyRegularContainerCreated(pod: Pod, state: RuntimePodState): boolean {
  return pod.spec.containers.some((c) => {
    const status = newestContainer(state, c.name);
    return status !== undefined && status.state !== 'unknown';
  });
}

/** Whether a running sidecar instance passed its startup probe; without probe results none has. */
export type StartupCheck = (container: RuntimeContainer) => boolean;

export function computePodActions(
  pod: Pod,
  state: RuntimePodState,
  hashOf: (container: Container) => string,
  startupSucceeded: StartupCheck = () => false,
): PodActions {
  const sandbox = sandboxChanged(pod, state);
  const actions: PodActions = {
    killPod: sandbox.changed,
    createSandbox: sandbox.changed,
    sandboxId: sandbox.sandboxId,
    attempt: sandbox.attempt,
    initContainersToStart: [],
    containersToStart: [],
    containersToKill: [],
  };

  if (sandbox.changed) {
    // A pod that must not restart and has run containers before gets no new sandbox.
    if (!shouldRestartOnFailure(pod) && sandbox.attempt !== 0 && state.containers.length > 0) {
      actions.createSandbox = false;
      return actions;
    }
    const toStart = pod.spec.containers
      .filter((c) => !(restartPolicy(pod) === 'OnFailure' && containerSucceeded(c, state)))
      .map((c) => c.name);
    if (toStart.length === 0 && anyRegularContainerCreated(pod, state)) {
      actions.createSandbox = false;
      return actions;
    }
    const firstInit = pod.spec.initContainers?.[0];
    if (firstInit !== undefined) {
      actions.initContainersToStart = [firstInit.name];
      return actions;
    }
    actions.containersToStart = toStart;
    return actions;
  }

  const init = computeInitContainerActions({ pod, state, hashOf, startupSucceeded });
  if (init.killPod) {
    actions.killPod = true;
    return actions;
  }
  actions.initContainersToStart = init.toStart;
  actions.containersToKill.push(...init.toKill);
  if (!init.initialized) return actions; // initialising: app containers wait

  let keep = 0;
  for (const container of pod.spec.containers) {
    const status = newestContainer(state, container.name);
    if (status === undefined || status.state !== 'running') {
      if (shouldContainerBeRestarted(container, pod, state)) {
        actions.containersToStart.push(container.name);
        if (status?.state === 'unknown') {
          actions.containersToKill.push({
            id: status.id,
            name: container.name,
            reason: 'Container is in unknown state, try killing it before restart',
          });
        }
      }
      continue;
    }
    if (status.hash !== '' && status.hash !== hashOf(container)) {
      actions.containersToStart.push(container.name);
      actions.containersToKill.push({ id: status.id, name: container.name, reason: `Container ${container.name} definition changed` });
      continue;
    }
    keep++;
  }
  if (keep === 0 && actions.containersToStart.length === 0) {
    // Nothing of the app left to run: sidecars do not keep the pod alive.
    actions.killPod = true;
    actions.initContainersToStart = [];
  }
  return actions;
}

export interface GarbageToCollect {
  containerIds: string[];
  sandboxIds: string[];
}

/**
 * Dead containers and sandboxes a pod no longer needs: per container name the newest container and
 * the newest exited one stay (its logs and lastState); older exited ones go. Sandboxes other than
 * the newest go once they are stopped and hold no container that stays.
 */
export function garbageToCollect(state: RuntimePodState): GarbageToCollect {
  const containerIds: string[] = [];
  const kept = new Map<string, { newest: boolean; exited: boolean }>();
  for (const container of state.containers) {
    const seen = kept.get(container.name);
    if (seen === undefined) {
      kept.set(container.name, { newest: true, exited: container.state === 'exited' });
      continue;
    }
    if (container.state === 'exited' && !seen.exited) {
      seen.exited = true;
      continue;
    }
    if (container.state === 'exited') containerIds.push(container.id);
  }
  const removed = new Set(containerIds);
  const sandboxIds = state.sandboxes
    .slice(1)
    .filter((s) => !s.ready && state.containers.every((c) => c.sandboxId !== s.id || removed.has(c.id)))
    .map((s) => s.id);
  return { containerIds, sandboxIds };
}
