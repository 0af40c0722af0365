// What the runtime holds for one pod, as plain data for the pure sync and status functions:
// its sandboxes and containers, newest first (the kubelet's kubecontainer.PodStatus).

export type RuntimeContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface RuntimeSandbox {
  id: string;
  attempt: number;
  ready: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Pod IPs, primary first; empty for host-network pods and stopped sandboxes. */
  ips: string[];
  hostNetwork: boolean;
}

export interface RuntimeContainer {
  id: string;
  sandboxId: string;
  name: string;
  /** From the io.kubernetes.container.restartCount annotation (the attempt). */
  restartCount: number;
  state: RuntimeContainerState;
  /** Milliseconds since the epoch; 0 when not reached. */
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  /** The runtime's reason for an exited container: Completed, Error, OOMKilled, … */
  reason: string;
  message: string;
  /** The image as the pod asked for it, and the runtime's image ID. */
  image: string;
  imageRef: string;
  /** From the io.kubernetes.container.hash annotation: the spec the container was made from. */
  hash: string;
}

export interface RuntimePodState {
  uid: string;
  name: string;
  namespace: string;
  sandboxes: RuntimeSandbox[];
  containers: RuntimeContainer[];
}

export function emptyPodState(uid: string, name = '', namespace = ''): RuntimePodState {
  return { uid, name, namespace, sandboxes: [], containers: [] };
}

/** The newest container with this name (FindContainerStatusByName). */
export function newestContainer(state: RuntimePodState, name: string): RuntimeContainer | undefined {
  return state.containers.find((c) => c.name === name);
}

/** The newest exited container with this name. */
export function newestExitedContainer(state: RuntimePodState, name: string): RuntimeContainer | undefined {
  return state.containers.find((c) => c.name === name && c.state === 'exited');
}

/** Newest first, by creation time; ties broken by restart count. */
export function sortNewestFirst<T extends { createdAt: number }>(items: T[], tieBreak: (item: T) => number = () => 0): T[] {
  return items.sort((a, b) => b.createdAt - a.createdAt || tieBreak(b) - tieBreak(a));
}
