// kubectl-style commands through a node's HTTP API (node-api-client.ts): `berth get pods`,
// `berth describe pod NAME`, `berth logs pod/NAME [-c CONTAINER] [-f]`. Output is laid out as
// kubectl lays it out (its pod printer, its describer, Go's tabwriter). The node API's address:
// --node-api URL, else $BERTH_NODE_API, else the node's socket unix:///var/lib/berth/node/node.sock.
import { podFieldValue } from '../agent/container-env.ts';
import type { Container, ContainerState, ContainerStatus, Pod, PodList, Probe } from '../agent/k8s-types.ts';
import { resourceFieldValue } from '../agent/resource-field.ts';
import { invalidArgument, notFound, unavailable } from '../errors/errors.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { DEFAULT_NODE_API, nodeApiFetch } from './node-api-client.ts';
import { formatStructured } from './output.ts';

/** --node-api, then $BERTH_NODE_API, then the node's root-only socket. */
export function nodeApiUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const value = flag ?? env.BERTH_NODE_API ?? DEFAULT_NODE_API;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument('bad-flag', `--node-api: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'unix:')
    throw invalidArgument('bad-flag', `--node-api: must be unix://, https:// or http://, got ${value}`);
  return value.replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Go's text/tabwriter (cells end with a tab; a column's width is that of its widest cell in a run of
// consecutive lines that have that column, plus padding), which kubectl prints through.

export function tabwrite(text: string, options: { minWidth: number; padding: number }): string {
  const lines = text.split('\n').map((line) => line.split('\t'));
  // A trailing newline ends the last line; it is not an extra line.
  const hadNewline = text.endsWith('\n');
  if (hadNewline) lines.pop();
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let line = '';
      for (const [j, cell] of cells.entries()) {
        const last = j === cells.length - 1;
        line += !last && j < widths.length ? cell.padEnd(widths[j]!) : cell;
      }
      out.push(line);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(start, i);
      start = i;
      let width = options.minWidth;
      let end = i;
      for (; end < line1; end++) {
        const cells = lines[end]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, cells[column]!.length + options.padding);
      }
      widths.push(width);
      format(start, end);
      widths.pop();
      start = end;
      i = end - 1;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (hadNewline ? '\n' : '');
}

// ---------------------------------------------------------------------------------------------
// Times, as kubectl shows them

/** apimachinery's duration.HumanDuration: 5s, 3m20s, 2h15m, 4d2h, 1y30d. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** kubectl's translateTimestampSince: `<unknown>` for no time. */
export function since(timestamp: string | undefined, now: number): string {
  if (timestamp === undefined || timestamp === '') return '<unknown>';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(now - at);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123Z in the local time zone: "Mon, 02 Jan 2006 15:04:05 -0700". */
export function rfc1123z(timestamp: string | undefined): string {
  const at = timestamp === undefined ? Number.NaN : Date.parse(timestamp);
  if (Number.isNaN(at)) return '';
  const d = new Date(at);
  const two = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.trunc(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `${DAYS[d.getDay()]}, ${two(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}

// ---------------------------------------------------------------------------------------------
// `get pods`: kubectl's pod printer (printPod)

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
  return tabwrite([header, ...rows].map((cells) => `${cells.join('\t')}\n`).join(''), { minWidth: 6, padding: 3 });
}

// ---------------------------------------------------------------------------------------------
// `describe pod`: kubectl's pod describer

class DescribeWriter {
  #text = '';
  /** Writes at an indent level (two spaces each), as kubectl's PrefixWriter. */
  write(level: number, text: string): void {
    this.#text += '  '.repeat(level) + text;
  }
  toString(): string {
    return tabwrite(this.#text, { minWidth: 0, padding: 2 });
  }
}

function labelsMultiline(w: DescribeWriter, title: string, labels: Record<string, string> | undefined): void {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) {
    w.write(0, `${title}:\t<none>\n`);
    return;
  }
  for (const [i, key] of keys.entries()) w.write(0, `${i === 0 ? `${title}:` : ''}\t${key}=${labels![key]}\n`);
}

const MAX_ANNOTATION_LENGTH = 140;

/** kubectl's printAnnotationsMultiline: long or multi-line values on lines of their own, shortened. */
function annotationsMultiline(w: DescribeWriter, annotations: Record<string, string> | undefined): void {
  const keys = Object.keys(annotations ?? {})
    .filter((k) => k !== 'kubectl.kubernetes.io/last-applied-configuration')
    .sort();
  if (keys.length === 0) {
    w.write(0, 'Annotations:\t<none>\n');
    return;
  }
  const shorten = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}...` : s);
  for (const [i, key] of keys.entries()) {
    const prefix = i === 0 ? 'Annotations:\t' : '\t';
    const value = annotations![key]!.replace(/\n$/, '');
    if (value.length + key.length + 2 > MAX_ANNOTATION_LENGTH || value.includes('\n')) {
      w.write(0, `${prefix}${key}:\n`);
      for (const line of value.split('\n')) w.write(0, `\t  ${shorten(line, MAX_ANNOTATION_LENGTH - 2)}\n`);
    } else {
      w.write(0, `${prefix}${key}: ${value}\n`);
    }
  }
}

function probePort(port: number | string): string {
  return String(port);
}

/** kubectl's DescribeProbe. */
export function describeProbe(probe: Probe): string {
  const attrs = `delay=${probe.initialDelaySeconds ?? 0}s timeout=${probe.timeoutSeconds ?? 1}s period=${probe.periodSeconds ?? 10}s #success=${probe.successThreshold ?? 1} #failure=${probe.failureThreshold ?? 3}`;
  if (probe.exec) return `exec [${(probe.exec.command ?? []).join(' ')}] ${attrs}`;
  if (probe.httpGet) {
    const scheme = (probe.httpGet.scheme ?? 'HTTP').toLowerCase();
    const host = probe.httpGet.host ?? '';
    const hostPort = host.includes(':') ? `[${host}]:${probePort(probe.httpGet.port)}` : `${host}:${probePort(probe.httpGet.port)}`;
    return `http-get ${scheme}://${hostPort}${probe.httpGet.path ?? ''} ${attrs}`;
  }
  if (probe.tcpSocket) return `tcp-socket ${probe.tcpSocket.host ?? ''}:${probePort(probe.tcpSocket.port)} ${attrs}`;
  if (probe.grpc) return `grpc <pod>:${probe.grpc.port} ${probe.grpc.service ?? ''} ${attrs}`;
  return `unknown ${attrs}`;
}

function describeState(w: DescribeWriter, title: string, state: ContainerState): void {
  if (state.running !== undefined) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(state.running.startedAt)}\n`);
  } else if (state.terminated !== undefined) {
    const t = state.terminated;
    w.write(2, `${title}:\tTerminated\n`);
    if (t.reason) w.write(3, `Reason:\t${t.reason}\n`);
    if (t.message) w.write(3, `Message:\t${t.message}\n`);
    w.write(3, `Exit Code:\t${t.exitCode}\n`);
    if ((t.signal ?? 0) > 0) w.write(3, `Signal:\t${t.signal}\n`);
    w.write(3, `Started:\t${rfc1123z(t.startedAt)}\n`);
    w.write(3, `Finished:\t${rfc1123z(t.finishedAt)}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
    if (state.waiting?.reason) w.write(3, `Reason:\t${state.waiting.reason}\n`);
  }
}

function envLines(w: DescribeWriter, pod: Pod, container: Container): void {
  const envFrom = container.envFrom ?? [];
  if (envFrom.length > 0) {
    w.write(2, 'Environment Variables from:\n');
    for (const e of envFrom) {
      const [kind, ref] = e.configMapRef ? ['ConfigMap', e.configMapRef] : ['Secret', e.secretRef];
      const prefix = e.prefix ? ` with prefix '${e.prefix}'` : '';
      w.write(3, `${ref?.name ?? ''}\t${kind}${prefix}\tOptional: ${ref?.optional === true}\n`);
    }
  }
  const env = container.env ?? [];
  w.write(2, `Environment:${env.length === 0 ? '\t<none>' : ''}\n`);
  const facts = {
    podIPs: (pod.status?.podIPs ?? []).map((p) => p.ip),
    hostIPs: pod.status?.hostIP ? [pod.status.hostIP] : [],
    nodeName: pod.spec.nodeName,
  };
  for (const e of env) {
    const from = e.valueFrom;
    if (from === undefined) {
      for (const [i, line] of (e.value ?? '').split('\n').entries()) w.write(3, i === 0 ? `${e.name}:\t${line}\n` : `\t${line}\n`);
    } else if (from.fieldRef) {
      let value = '';
      try {
        value = podFieldValue(pod, from.fieldRef.fieldPath, facts);
      } catch {
        // a path the node does not resolve: shown empty, as kubectl shows an unresolvable one
      }
      w.write(3, `${e.name}:\t${value} (${from.fieldRef.apiVersion ?? 'v1'}:${from.fieldRef.fieldPath})\n`);
    } else if (from.resourceFieldRef) {
      const resource = from.resourceFieldRef.resource;
      let value = '';
      try {
        // The container's own request or limit, as kubectl computes it (without the node's allocatable).
        value = resourceFieldValue(from.resourceFieldRef, pod, container, {});
      } catch {
        // an unsupported resource: shown empty
      }
      if (value === '0' && (resource === 'limits.cpu' || resource === 'limits.memory')) value = 'node allocatable';
      w.write(3, `${e.name}:\t${value} (${resource})\n`);
    } else if (from.secretKeyRef) {
      w.write(
        3,
        `${e.name}:\t<set to the key '${from.secretKeyRef.key}' in secret '${from.secretKeyRef.name ?? ''}'>\tOptional: ${from.secretKeyRef.optional === true}\n`,
      );
    } else if (from.configMapKeyRef) {
      w.write(
        3,
        `${e.name}:\t<set to the key '${from.configMapKeyRef.key}' of config map '${from.configMapKeyRef.name ?? ''}'>\tOptional: ${from.configMapKeyRef.optional === true}\n`,
      );
    }
  }
}

interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

function describeContainers(w: DescribeWriter, title: string, pod: Pod, containers: Container[], statuses: ContainerStatus[] = []): void {
  w.write(0, `${title}:${containers.length === 0 ? ' <none>' : ''}\n`);
  for (const container of containers) {
    const status = statuses.find((s) => s.name === container.name);
    w.write(1, `${container.name}:\n`);
    if (status !== undefined) w.write(2, `Container ID:\t${status.containerID ?? ''}\n`);
    w.write(2, `Image:\t${container.image ?? ''}\n`);
    if (status !== undefined) w.write(2, `Image ID:\t${status.imageID}\n`);
    const ports = (container.ports ?? []).map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).join(', ');
    const hostPorts = (container.ports ?? []).map((p) => `${p.hostPort ?? 0}/${p.protocol ?? 'TCP'}`).join(', ');
    w.write(2, ports.includes(',') ? `Ports:\t${ports}\n` : `Port:\t${ports || '<none>'}\n`);
    w.write(2, hostPorts.includes(',') ? `Host Ports:\t${hostPorts}\n` : `Host Port:\t${hostPorts || '<none>'}\n`);
    for (const [label, list] of [
      ['Command', container.command],
      ['Args', container.args],
    ] as const) {
      if (list === undefined || list.length === 0) continue;
      w.write(2, `${label}:\n`);
      for (const item of list) for (const line of item.split('\n')) w.write(3, `${line}\n`);
    }
    if (status !== undefined) {
      describeState(w, 'State', status.state);
      if (status.lastState.terminated !== undefined) describeState(w, 'Last State', status.lastState);
      w.write(2, `Ready:\t${status.ready ? 'True' : 'False'}\n`);
      w.write(2, `Restart Count:\t${status.restartCount}\n`);
    }
    for (const [label, values] of [
      ['Limits', container.resources?.limits],
      ['Requests', container.resources?.requests],
    ] as const) {
      const keys = Object.keys(values ?? {}).sort();
      if (keys.length === 0) continue;
      w.write(2, `${label}:\n`);
      for (const key of keys) w.write(3, `${key}:\t${values![key]}\n`);
    }
    if (container.livenessProbe) w.write(2, `Liveness:\t${describeProbe(container.livenessProbe)}\n`);
    if (container.readinessProbe) w.write(2, `Readiness:\t${describeProbe(container.readinessProbe)}\n`);
    if (container.startupProbe) w.write(2, `Startup:\t${describeProbe(container.startupProbe)}\n`);
    envLines(w, pod, container);
    const mounts = ((container.volumeMounts ?? []) as VolumeMount[]).toSorted((a, b) => (a.mountPath < b.mountPath ? -1 : 1));
    w.write(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}\n`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw', ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      w.write(3, `${m.mountPath} from ${m.name} (${flags.join(',')})\n`);
    }
  }
}

interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: { medium?: string; sizeLimit?: string | number };
  configMap?: { name?: string; optional?: boolean };
  secret?: { secretName?: string; optional?: boolean };
  downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string } }[] };
}

function describeVolumes(w: DescribeWriter, volumes: Volume[]): void {
  if (volumes.length === 0) {
    w.write(0, 'Volumes:\t<none>\n');
    return;
  }
  w.write(0, 'Volumes:\n');
  for (const v of volumes) {
    w.write(1, `${v.name}:\n`);
    if (v.hostPath) {
      w.write(2, 'Type:\tHostPath (bare host directory volume)\n');
      w.write(2, `Path:\t${v.hostPath.path}\n`);
      w.write(2, `HostPathType:\t${v.hostPath.type || '<none>'}\n`);
    } else if (v.emptyDir) {
      w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n");
      w.write(2, `Medium:\t${v.emptyDir.medium ?? ''}\n`);
      w.write(2, `SizeLimit:\t${v.emptyDir.sizeLimit ?? '<unset>'}\n`);
    } else if (v.configMap) {
      w.write(2, 'Type:\tConfigMap (a volume populated by a ConfigMap)\n');
      w.write(2, `Name:\t${v.configMap.name ?? ''}\n`);
      w.write(2, `Optional:\t${v.configMap.optional === true}\n`);
    } else if (v.secret) {
      w.write(2, 'Type:\tSecret (a volume populated by a Secret)\n');
      w.write(2, `SecretName:\t${v.secret.secretName ?? ''}\n`);
      w.write(2, `Optional:\t${v.secret.optional === true}\n`);
    } else if (v.downwardAPI) {
      w.write(2, 'Type:\tDownwardAPI (a volume populated by information about the pod)\n');
      w.write(2, 'Items:\n');
      for (const item of v.downwardAPI.items ?? []) {
        const source = item.fieldRef?.fieldPath ?? item.resourceFieldRef?.resource ?? '';
        w.write(3, `${source} -> ${item.path}\n`);
      }
    }
  }
}

/** A Kubernetes Event as describe lists it. */
export interface DescribedEvent {
  type: string;
  reason: string;
  message: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: { component?: string };
}

/** `describe pod` text, as kubectl writes it; `events` undefined leaves the Events section out. */
export function describePod(pod: Pod, now: number, events?: DescribedEvent[]): string {
  const w = new DescribeWriter();
  const { metadata: meta, spec, status = {} } = pod;
  w.write(0, `Name:\t${meta.name ?? ''}\n`);
  w.write(0, `Namespace:\t${meta.namespace ?? ''}\n`);
  if (spec.priority !== undefined) w.write(0, `Priority:\t${spec.priority}\n`);
  if (spec.priorityClassName) w.write(0, `Priority Class Name:\t${spec.priorityClassName}\n`);
  if (typeof spec.runtimeClassName === 'string' && spec.runtimeClassName) w.write(0, `Runtime Class Name:\t${spec.runtimeClassName}\n`);
  if (spec.serviceAccountName) w.write(0, `Service Account:\t${spec.serviceAccountName}\n`);
  w.write(0, `Node:\t${spec.nodeName ? `${spec.nodeName}/${status.hostIP ?? ''}` : '<none>'}\n`);
  if (status.startTime) w.write(0, `Start Time:\t${rfc1123z(status.startTime)}\n`);
  labelsMultiline(w, 'Labels', meta.labels);
  annotationsMultiline(w, meta.annotations);
  if (meta.deletionTimestamp && status.phase !== 'Failed' && status.phase !== 'Succeeded') {
    w.write(0, `Status:\tTerminating (lasts ${since(meta.deletionTimestamp, now)})\n`);
    w.write(0, `Termination Grace Period:\t${meta.deletionGracePeriodSeconds ?? 0}s\n`);
  } else {
    w.write(0, `Status:\t${status.phase ?? ''}\n`);
  }
  if (status.reason) w.write(0, `Reason:\t${status.reason}\n`);
  if (status.message) w.write(0, `Message:\t${status.message}\n`);
  w.write(0, `IP:\t${status.podIP ?? ''}\n`);
  const ips = status.podIPs ?? [];
  if (ips.length === 0) w.write(0, 'IPs:\t<none>\n');
  else {
    w.write(0, 'IPs:\n');
    for (const ip of ips) w.write(1, `IP:\t${ip.ip}\n`);
  }
  const owner = (meta.ownerReferences as { kind?: string; name?: string; controller?: boolean }[] | undefined)?.find((o) => o.controller);
  if (owner !== undefined) w.write(0, `Controlled By:\t${owner.kind}/${owner.name}\n`);
  if ((spec.initContainers ?? []).length > 0)
    describeContainers(w, 'Init Containers', pod, spec.initContainers!, status.initContainerStatuses);
  describeContainers(w, 'Containers', pod, spec.containers, status.containerStatuses);
  if ((status.conditions ?? []).length > 0) {
    w.write(0, 'Conditions:\n  Type\tStatus\n');
    for (const c of status.conditions!) w.write(1, `${c.type} \t${c.status} \n`);
  }
  describeVolumes(w, (spec.volumes ?? []) as Volume[]);
  w.write(0, `QoS Class:\t${status.qosClass ?? ''}\n`);
  labelsMultiline(w, 'Node-Selectors', spec.nodeSelector as Record<string, string> | undefined);
  const tolerations = spec.tolerations ?? [];
  if (tolerations.length === 0) w.write(0, 'Tolerations:\t<none>\n');
  for (const [i, t] of tolerations.entries()) {
    let text = t.key ?? '';
    if (t.value) text += `=${t.value}`;
    if (t.effect) text += `:${t.effect}`;
    if (t.operator === 'Exists' && !t.value) text += t.key || t.effect ? ' op=Exists' : 'op=Exists';
    if (t.tolerationSeconds !== undefined) text += ` for ${t.tolerationSeconds}s`;
    w.write(0, `${i === 0 ? 'Tolerations:' : ''}\t${text}\n`);
  }
  let text = w.toString();
  if (events !== undefined) text += describeEvents(events, now);
  return text;
}

/** kubectl's DescribeEvents (a section of its own: its columns align apart from the rest). */
export function describeEvents(events: DescribedEvent[], now: number): string {
  if (events.length === 0) return tabwrite('Events:\t<none>\n', { minWidth: 0, padding: 2 });
  const sorted = events.toSorted((a, b) => Date.parse(a.lastTimestamp ?? '') - Date.parse(b.lastTimestamp ?? ''));
  let text = 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n';
  for (const e of sorted) {
    const first = since(e.firstTimestamp, now);
    const age = (e.count ?? 1) > 1 ? `${since(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
    text += `  ${e.type}\t${e.reason}\t${age}\t${e.source?.component ?? ''}\t${e.message.trim()}\n`;
  }
  return tabwrite(text, { minWidth: 0, padding: 2 });
}

// ---------------------------------------------------------------------------------------------
// The node API

async function nodeApiGet(base: string, path: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await nodeApiFetch(base, path, signal);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(
      'node-api-unreachable',
      `cannot reach the node API at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (!res.ok) {
    const body = (await res.text()).trim();
    const message = `${res.status} ${res.statusText}${body ? `: ${body}` : ''}`;
    if (res.status === 404) throw notFound('node-api-not-found', message);
    throw unavailable('node-api-error', `the node API answered ${message}`);
  }
  return res;
}

export async function fetchPods(base: string): Promise<Pod[]> {
  const list = (await (await nodeApiGet(base, '/pods')).json()) as PodList;
  return list.items ?? [];
}

/** The node's pod of that namespace and name; `pods "NAME" not found` when it has none. */
export async function fetchPod(base: string, namespace: string, name: string): Promise<Pod> {
  const pod = (await fetchPods(base)).find((p) => (p.metadata.namespace ?? 'default') === namespace && p.metadata.name === name);
  if (pod === undefined) throw notFound('pod-not-found', `pods "${name}" not found`);
  return pod;
}

/** The pod's events from the node's /events, or undefined when the node API does not keep events. */
export async function fetchPodEvents(base: string, pod: Pod): Promise<DescribedEvent[] | undefined> {
  const query = new URLSearchParams({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '' });
  if (pod.metadata.uid) query.set('uid', pod.metadata.uid);
  const res = await nodeApiFetch(base, `/events?${query}`).catch(() => undefined);
  if (res === undefined || !res.ok) return undefined;
  return ((await res.json()) as { items?: DescribedEvent[] }).items ?? [];
}

// ---------------------------------------------------------------------------------------------
// Commands

const NODE_API_OPTION = { 'node-api': { type: 'string' } } as const;

function podsOf(namespace: string | undefined, pods: Pod[]): Pod[] {
  return pods
    .filter((p) => namespace === undefined || (p.metadata.namespace ?? 'default') === namespace)
    .toSorted((a, b) => {
      const ns = (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '');
      return ns !== 0 ? ns : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
    });
}

/** `pods`, `pod`, `po`, optionally with `/NAME`: the resource kinds these commands know. */
function podResource(arg: string | undefined, command: string): { name?: string } {
  if (arg === undefined) throw invalidArgument('bad-flag', `berth ${command}: say which resource type: pods`);
  const [kind, name] = arg.split('/', 2) as [string, string | undefined];
  if (!['pods', 'pod', 'po'].includes(kind.toLowerCase())) {
    throw invalidArgument('bad-flag', `the node API has no resource type "${kind}" (it serves pods)`);
  }
  return name === undefined ? {} : { name };
}

const getCommand: Command = {
  name: 'get',
  summary: 'List the pods of a node (kubectl get pods), through its node API',
  usage: 'get pods [NAME...] [-n NAMESPACE | -A] [-o wide|json|yaml|name] [--node-api URL]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...NODE_API_OPTION,
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
    });
    const [resource, ...rest] = positionals;
    const named = podResource(resource, 'get').name;
    const names = named !== undefined ? [named, ...rest] : rest;
    const output = values.output ?? '';
    if (!['', 'wide', 'json', 'yaml', 'name'].includes(output)) {
      throw invalidArgument(
        'bad-flag',
        `unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,wide,yaml`,
      );
    }
    const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? 'default');
    const all = podsOf(namespace, await fetchPods(nodeApiUrl(values['node-api'])));
    let pods = all;
    if (names.length > 0) {
      pods = [];
      for (const name of names) {
        const pod = all.find((p) => p.metadata.name === name);
        if (pod === undefined) throw notFound('pod-not-found', `pods "${name}" not found`);
        pods.push(pod);
      }
    }
    if (output === 'json' || output === 'yaml') {
      const document =
        names.length === 1
          ? { apiVersion: 'v1', kind: 'Pod', ...pods[0] }
          : {
              apiVersion: 'v1',
              kind: 'List',
              metadata: { resourceVersion: '' },
              items: pods.map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...p })),
            };
      process.stdout.write(formatStructured(document, output));
      return 0;
    }
    if (pods.length === 0) {
      process.stderr.write(namespace === undefined ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`);
      return 0;
    }
    if (output === 'name') {
      process.stdout.write(pods.map((p) => `pod/${p.metadata.name}\n`).join(''));
      return 0;
    }
    process.stdout.write(podTable(pods, { now: Date.now(), wide: output === 'wide', allNamespaces: namespace === undefined }));
    return 0;
  },
};

const describeCommand: Command = {
  name: 'describe',
  summary: 'Show the details of a pod of a node (kubectl describe pod), through its node API',
  usage: 'describe pod [NAME | NAME-PREFIX] [-n NAMESPACE] [--node-api URL]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...NODE_API_OPTION,
      namespace: { type: 'string', short: 'n' },
    });
    const [resource, ...rest] = positionals;
    const named = podResource(resource, 'describe').name;
    const names = named !== undefined ? [named, ...rest] : rest;
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const all = podsOf(namespace, await fetchPods(base));
    let pods = all;
    if (names.length > 0) {
      pods = [];
      for (const name of names) {
        // As kubectl: the pod of that name, else every pod whose name starts with it.
        const exact = all.filter((p) => p.metadata.name === name);
        const found = exact.length > 0 ? exact : all.filter((p) => p.metadata.name?.startsWith(name));
        if (found.length === 0) throw notFound('pod-not-found', `pods "${name}" not found`);
        pods.push(...found);
      }
    }
    if (pods.length === 0) {
      process.stderr.write(`No resources found in ${namespace} namespace.\n`);
      return 0;
    }
    const events = await Promise.all(pods.map((p) => fetchPodEvents(base, p)));
    const now = Date.now();
    process.stdout.write(pods.map((p, i) => describePod(p, now, events[i])).join('\n\n'));
    return 0;
  },
};

/** The container `logs` means: -c, else the default-container annotation, else the only (or first) container. */
export function logsContainer(pod: Pod, requested: string | undefined): { name: string; notice?: string } {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  if (requested !== undefined) {
    if (!all.some((c) => c.name === requested)) {
      throw invalidArgument('container-not-found', `container ${requested} is not valid for pod ${pod.metadata.name}`);
    }
    return { name: requested };
  }
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated !== undefined && pod.spec.containers.some((c) => c.name === annotated)) return { name: annotated };
  const first = pod.spec.containers[0]!.name;
  if (all.length === 1) return { name: first };
  const names = [...pod.spec.containers.map((c) => c.name), ...(pod.spec.initContainers ?? []).map((c) => `${c.name} (init)`)];
  return { name: first, notice: `Defaulted container "${first}" out of: ${names.join(', ')}\n` };
}

/** `berth logs pod/NAME`: logs through the node API (the crictl-style `logs CONTAINER-ID` dispatches here). */
export const podLogsCommand: Command = {
  name: 'logs',
  summary: "Print a pod's container logs (kubectl logs pod/NAME), through the node API",
  usage: 'logs pod/NAME [-c CONTAINER] [-f] [-p] [--tail N] [--timestamps] [--since-seconds N] [-n NAMESPACE] [--node-api URL]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...NODE_API_OPTION,
      namespace: { type: 'string', short: 'n' },
      container: { type: 'string', short: 'c' },
      follow: { type: 'boolean', short: 'f' },
      previous: { type: 'boolean', short: 'p' },
      tail: { type: 'string' },
      timestamps: { type: 'boolean' },
      'since-seconds': { type: 'string' },
    });
    if (positionals.length !== 1 || !positionals[0]!.startsWith('pod/')) {
      throw invalidArgument('bad-flag', 'logs: expected one pod/NAME');
    }
    const name = positionals[0]!.slice('pod/'.length);
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const pod = await fetchPod(base, namespace, name);
    const container = logsContainer(pod, values.container);
    if (container.notice !== undefined) process.stderr.write(container.notice);
    const query = new URLSearchParams();
    if (values.follow) query.set('follow', 'true');
    if (values.previous) query.set('previous', 'true');
    if (values.timestamps) query.set('timestamps', 'true');
    for (const [flag, param] of [
      ['tail', 'tailLines'],
      ['since-seconds', 'sinceSeconds'],
    ] as const) {
      const value = values[flag];
      if (value === undefined || (flag === 'tail' && value === '-1')) continue;
      if (!/^\d+$/.test(value)) throw invalidArgument('bad-flag', `--${flag}: not a non-negative integer: ${value}`);
      query.set(param, value);
    }
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container.name)}`;
      const res = await nodeApiGet(base, `${path}${query.size > 0 ? `?${query}` : ''}`, abort.signal);
      if (res.body !== null) {
        for await (const chunk of res.body) {
          if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    return 0;
  },
};

export const kubeCommands: Command[] = [getCommand, describeCommand];
