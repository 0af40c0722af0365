// `berth get pods`: kubectl's pod printer (printPod), its columns laid out by Go's tabwriter.
import type { ContainerState, Pod } from '../../agent/k8s-types.ts';
import { since } from '../output/human.ts';
import { KUBECTL_TABLE, tabTable } from '../output/tabwriter.ts';

export interface PodRow {
  name: string;
  ready: string;
  status: string;
  restarts: string;
  age: string;
  ip: string;
  node: string;
}

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

function terminatedReason(t: NonNullable<ContainerState['terminated']>, prefix: string): string {
  if (t.reason) return `${prefix}${t.reason}`;
  return t.signal ? `${prefix}Signal:${t.signal}` : `${prefix}ExitCode:${t.exitCode}`;
}

/** The pod's creation time, or when the node first saw it (static pods carry no creationTimestamp). */
function podCreated(pod: Pod): string | undefined {
  return pod.metadata.creationTimestamp ?? pod.metadata.annotations?.['kubernetes.io/config.seen'] ?? pod.status?.startTime;
}

export function podRow(pod: Pod, now: number): PodRow {
  const status = pod.status ?? {};
  let reason: string = status.reason || status.phase || '';
  let restarts = 0;
  let readyContainers = 0;
  let lastRestart: string | undefined;
  let initializing = false;
  const initContainers = pod.spec.initContainers ?? [];
  const initCount = initContainers.length;
  // Sidecars (restartable init containers) count as containers, with their restarts.
  const sidecars = new Set(initContainers.filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  let sidecarRestarts = 0;
  let lastSidecarRestart: string | undefined;
  for (const [i, c] of (status.initContainerStatuses ?? []).entries()) {
    restarts += c.restartCount;
    if (c.lastState.terminated?.finishedAt) lastRestart = later(lastRestart, c.lastState.terminated.finishedAt);
    if (sidecars.has(c.name)) {
      sidecarRestarts += c.restartCount;
      if (c.lastState.terminated?.finishedAt) lastSidecarRestart = later(lastSidecarRestart, c.lastState.terminated.finishedAt);
    }
    if (c.state.terminated !== undefined && c.state.terminated.exitCode === 0) continue;
    if (sidecars.has(c.name) && c.started === true) {
      if (c.ready) readyContainers++;
      continue;
    }
    initializing = true;
    if (c.state.terminated !== undefined) reason = terminatedReason(c.state.terminated, 'Init:');
    else if (c.state.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${initCount}`;
    break;
  }
  const initialized = status.conditions?.some((c) => c.type === 'Initialized' && c.status === 'True') === true;
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += c.restartCount;
      if (c.lastState.terminated?.finishedAt) lastRestart = later(lastRestart, c.lastState.terminated.finishedAt);
      if (c.state.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state.terminated !== undefined) reason = terminatedReason(c.state.terminated, '');
      else if (c.ready && c.state.running !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && status.phase !== 'Succeeded' && status.phase !== 'Failed') reason = 'Terminating';
  const restartsText = restarts !== 0 && lastRestart !== undefined ? `${restarts} (${since(lastRestart, now)} ago)` : String(restarts);
  return {
    name: pod.metadata.name ?? '',
    ready: `${readyContainers}/${pod.spec.containers.length + sidecars.size}`,
    status: reason,
    restarts: restartsText,
    age: since(podCreated(pod), now),
    ip: status.podIPs?.[0]?.ip || status.podIP || '<none>',
    node: pod.spec.nodeName || '<none>',
  };
}

export interface PodTableOptions {
  now: number;
  /** A NAMESPACE column first (-A). */
  allNamespaces?: boolean;
  /** NODE, NOMINATED NODE and READINESS GATES too (-o wide). */
  wide?: boolean;
}

/** The `get pods` table: NAME READY STATUS RESTARTS AGE IP (and more with -o wide), as kubectl prints it. */
export function podTable(pods: Pod[], options: PodTableOptions): string {
  const header = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP'];
  if (options.wide) header.push('NODE', 'NOMINATED NODE', 'READINESS GATES');
  if (options.allNamespaces) header.unshift('NAMESPACE');
  const rows = pods.map((pod) => {
    const r = podRow(pod, options.now);
    const cells = [r.name, r.ready, r.status, r.restarts, r.age, r.ip];
    if (options.wide) cells.push(r.node, '<none>', '<none>');
    if (options.allNamespaces) cells.unshift(pod.metadata.namespace ?? '');
    return cells;
  });
  return tabTable([header, ...rows], KUBECTL_TABLE);
}
