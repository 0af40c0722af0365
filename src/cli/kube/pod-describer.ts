// `berth describe pod`: kubectl's pod describer, its text aligned by Go's tabwriter.
import { podFieldValue } from '../../agent/container-env.ts';
import type { Container, ContainerState, ContainerStatus, Pod, Probe, Volume } from '../../agent/k8s-types.ts';
import { resourceFieldValue } from '../../agent/resource-field.ts';
import { since } from '../output/human.ts';
import { KUBECTL_DESCRIBE, tabwrite } from '../output/tabwriter.ts';
import { rfc1123z } from '../output/times.ts';

class DescribeWriter {
  #text = '';
  /** Writes at an indent level (two spaces each), as kubectl's PrefixWriter. */
  write(level: number, text: string): void {
    this.#text += '  '.repeat(level) + text;
  }
  toString(): string {
    return tabwrite(this.#text, KUBECTL_DESCRIBE);
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
    const mounts = (container.volumeMounts ?? []).toSorted((a, b) => (a.mountPath < b.mountPath ? -1 : 1));
    w.write(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}\n`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw', ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      w.write(3, `${m.mountPath} from ${m.name} (${flags.join(',')})\n`);
    }
  }
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
  describeVolumes(w, spec.volumes ?? []);
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
  if (events.length === 0) return tabwrite('Events:\t<none>\n', KUBECTL_DESCRIBE);
  const sorted = events.toSorted((a, b) => Date.parse(a.lastTimestamp ?? '') - Date.parse(b.lastTimestamp ?? ''));
  let text = 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n';
  for (const e of sorted) {
    const first = since(e.firstTimestamp, now);
    const age = (e.count ?? 1) > 1 ? `${since(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
    text += `  ${e.type}\t${e.reason}\t${age}\t${e.source?.component ?? ''}\t${e.message.trim()}\n`;
  }
  return tabwrite(text, KUBECTL_DESCRIBE);
}
