// A pod's phase from its container statuses, as the kubelet's getPhase decides it.
import type { ContainerStatus, PodPhase, PodSpec } from './k8s-types.ts';

function find(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((s) => s.name === name);
}

/** True once any app container has run (a restarted init container does not make the pod pending again). */
export function anyAppContainerStarted(spec: PodSpec, statuses: readonly ContainerStatus[]): boolean {
  return spec.containers.some((c) => {
    const s = find(statuses, c.name);
    return s !== undefined && (s.state.running !== undefined || s.state.terminated !== undefined);
  });
}

export function podPhase(spec: PodSpec, initStatuses: readonly ContainerStatus[], statuses: readonly ContainerStatus[]): PodPhase {
  const restartPolicy = spec.restartPolicy ?? 'Always';
  let pendingInitialization = 0;
  let pendingSidecars = 0;
  let failedInitialization = 0;
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  for (const container of spec.initContainers ?? []) {
    if (container.restartPolicy === 'Always') {
      // A sidecar counts while it runs or has yet to start; one that exited (and restarts) does not.
      const s = find(initStatuses, container.name);
      if (s === undefined) unknown++;
      else if (s.state.running !== undefined) {
        running++;
        if (s.started !== true) pendingSidecars++;
      } else if (s.state.waiting !== undefined && s.lastState.terminated === undefined) {
        pendingSidecars++;
        waiting++;
      } else if (s.state.terminated === undefined && s.state.waiting === undefined) {
        pendingSidecars++;
        unknown++;
      }
      continue;
    }
    const s = find(initStatuses, container.name);
    if (s === undefined || s.state.running !== undefined) pendingInitialization++;
    else if (s.state.terminated !== undefined) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state.waiting !== undefined && s.lastState.terminated !== undefined) {
      if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
    } else pendingInitialization++;
  }
  let stopped = 0;
  let succeeded = 0;
  for (const container of spec.containers) {
    const s = find(statuses, container.name);
    if (s === undefined) unknown++;
    else if (s.state.running !== undefined) running++;
    else if (s.state.terminated !== undefined) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting !== undefined) {
      if (s.lastState.terminated !== undefined) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInitialization > 0 && restartPolicy === 'Never') return 'Failed';
  const initialized = anyAppContainerStarted(spec, statuses);
  if ((pendingInitialization > 0 || pendingSidecars > 0) && !initialized) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (restartPolicy === 'Always') return 'Running'; // every container is on its way to a restart
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running'; // OnFailure: the failed ones restart
  }
  return 'Pending';
}
