// Which init containers to start, as the kubelet's computeInitContainerActions decides it with
// sidecars (restartable init containers, KEP-753): init containers run in order; a sidecar counts
// as done once it has started (its startup probe succeeded, or it runs and has none) and is kept
// running — restarted whenever it exits — next to the init containers after it and the app
// containers.
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { newestContainer, type RuntimeContainer, type RuntimePodState } from './runtime-state.ts';

export interface InitContainerToKill {
  id: string;
  name: string;
  reason: string;
}

export interface InitContainerActions {
  /** Init containers (sidecars included) to start, by name, in spec order. */
  toStart: string[];
  toKill: InitContainerToKill[];
  /** A regular init container failed and the pod must not restart: the pod is done. */
  killPod: boolean;
  /** Every init container is done: the app containers may run. */
  initialized: boolean;
}

export function isSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

/** Sidecar names in declaration order. */
export function sidecarNames(pod: Pod): string[] {
  return (pod.spec.initContainers ?? []).filter(isSidecar).map((c) => c.name);
}

function isInitContainerFailed(status: RuntimeContainer): boolean {
  return (status.state === 'exited' && status.exitCode !== 0) || status.state === 'unknown';
}

/**
 * A regular container was created, runs, or ran in the current sandbox: initialisation happened,
 * even if init containers were removed since. (Exited ones of an older sandbox do not count: a
 * new sandbox initialises again.)
 */
function anyRegularContainerActive(pod: Pod, state: RuntimePodState): boolean {
  const sandboxId = state.sandboxes[0]?.id;
  return pod.spec.containers.some((c) => {
    const status = newestContainer(state, c.name);
    if (status === undefined) return false;
    return status.state === 'created' || status.state === 'running' || (status.state === 'exited' && status.sandboxId === sandboxId);
  });
}

export interface InitContainerInputs {
  pod: Pod;
  state: RuntimePodState;
  hashOf: (container: Container) => string;
  /** Whether this running sidecar instance passed its startup probe (asked only for sidecars with one). */
  startupSucceeded: (container: RuntimeContainer) => boolean;
}

export function computeInitContainerActions({ pod, state, hashOf, startupSucceeded }: InitContainerInputs): InitContainerActions {
  const init = pod.spec.initContainers ?? [];
  const actions: InitContainerActions = { toStart: [], toKill: [], killPod: false, initialized: init.length === 0 };
  if (init.length === 0) return actions;
  const restartOnFailure = (pod.spec.restartPolicy ?? 'Always') !== 'Never';
  const deleting = pod.metadata.deletionTimestamp !== undefined;
  let initialized = anyRegularContainerActive(pod, state);
  // Whether an init container before the one looked at has run: walking backwards, the newest
  // init container with a status tells how far initialisation got (older ones may be removed).
  let previousInitialized = initialized;
  const start = new Set<number>();
  const fail = (): InitContainerActions => ({ toStart: [], toKill: [], killPod: true, initialized: false });

  for (let i = init.length - 1; i >= 0; i--) {
    const container = init[i]!;
    const sidecar = isSidecar(container);
    const status = newestContainer(state, container.name);
    if (status === undefined) {
      if (previousInitialized && sidecar && !deleting) start.add(i);
      continue;
    }
    if (previousInitialized && !sidecar) continue;

    switch (status.state) {
      case 'created':
        // Created but never started: the start failed; start a new one.
        start.add(i);
        break;
      case 'running': {
        if (!sidecar) break; // wait for it to finish
        if (container.startupProbe !== undefined && !startupSucceeded(status)) break;
        if (i === init.length - 1) initialized = true;
        else if (!previousInitialized) start.add(i + 1);
        if (status.hash !== '' && status.hash !== hashOf(container)) {
          actions.toKill.push({ id: status.id, name: container.name, reason: `Init container ${container.name} definition changed` });
          start.add(i);
        }
        break;
      }
      case 'exited':
        if (sidecar) {
          if (!deleting) start.add(i);
        } else if (isInitContainerFailed(status)) {
          if (!restartOnFailure) return fail();
          start.add(i);
        } else if (i === init.length - 1) initialized = true;
        else start.add(i + 1);
        break;
      default:
        if (!sidecar && !restartOnFailure) return fail();
        actions.toKill.push({
          id: status.id,
          name: container.name,
          reason: 'Init container is in unknown state, try killing it before restart',
        });
        start.add(i);
    }
    previousInitialized = true;
  }
  if (!previousInitialized) start.add(0);
  actions.toStart = [...start].sort((a, b) => a - b).map((i) => init[i]!.name);
  actions.initialized = initialized;
  return actions;
}
