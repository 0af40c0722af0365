// What the API server fills in on a new pod, from the API's documented defaults
// (pkg/apis/core/v1/defaults.go: SetDefaults_Pod, _PodSpec, _Container, _Probe, _HTTPGetAction,
// _Volume, _SecretVolumeSource, …), the DefaultTolerationSeconds and Priority admission plugins,
// and the QoS class the pod strategy writes into the new pod's status. Written from the API
// reference, not from berth's own defaulting, so that a default berth lacks shows up.
import type { Loose } from './api-object.ts';
import { quantityValue } from './quantity.ts';

/** v1 VolumeSource defaultMode (0644). */
export const DEFAULT_MODE = 420;

/** The tag of an image reference; `latest` when it has neither a tag nor a digest. */
function imageTag(image: string): string {
  const [name, digest] = image.split('@') as [string, string | undefined];
  const last = name.slice(name.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  if (colon !== -1) return last.slice(colon + 1);
  return digest === undefined ? 'latest' : '';
}

function defaultHttpGet(action: Loose | undefined): void {
  if (action === undefined) return;
  action.path ??= '/';
  action.scheme ??= 'HTTP';
}

function defaultProbe(probe: Loose | undefined): void {
  if (probe === undefined) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  defaultHttpGet(probe.httpGet);
  if (probe.grpc) probe.grpc.service ??= '';
}

function defaultFieldRef(ref: Loose | undefined): void {
  if (ref !== undefined) ref.apiVersion ??= 'v1';
}

function defaultContainer(c: Loose, hostNetwork: boolean): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.imagePullPolicy ??= imageTag(c.image ?? '') === 'latest' ? 'Always' : 'IfNotPresent';
  for (const port of c.ports ?? []) {
    port.protocol ??= 'TCP';
    if (hostNetwork) port.hostPort ??= port.containerPort;
  }
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[key]);
  for (const hook of ['postStart', 'preStop']) defaultHttpGet(c.lifecycle?.[hook]?.httpGet);
  for (const env of c.env ?? []) defaultFieldRef(env.valueFrom?.fieldRef);
  // Requests default to limits (SetDefaults_Pod).
  const limits = c.resources?.limits as Record<string, string> | undefined;
  if (limits !== undefined) {
    c.resources.requests ??= {};
    for (const [name, value] of Object.entries(limits)) c.resources.requests[name] ??= value;
  }
}

function defaultVolume(v: Loose): void {
  const sources = [
    'hostPath',
    'emptyDir',
    'secret',
    'configMap',
    'downwardAPI',
    'projected',
    'persistentVolumeClaim',
    'nfs',
    'csi',
    'ephemeral',
  ];
  if (!sources.some((s) => v[s] !== undefined) && Object.keys(v).length === 1) v.emptyDir = {};
  if (v.hostPath) v.hostPath.type ??= '';
  for (const s of ['secret', 'configMap', 'downwardAPI', 'projected']) if (v[s]) v[s].defaultMode ??= DEFAULT_MODE;
  for (const item of v.downwardAPI?.items ?? []) defaultFieldRef(item.fieldRef);
  for (const source of v.projected?.sources ?? []) {
    for (const item of source.downwardAPI?.items ?? []) defaultFieldRef(item.fieldRef);
    if (source.serviceAccountToken) source.serviceAccountToken.expirationSeconds ??= 3600;
  }
}

/** The tolerations DefaultTolerationSeconds adds unless the pod tolerates the taint already. */
function defaultTolerations(spec: Loose): void {
  spec.tolerations ??= [];
  const tolerations: Loose[] = spec.tolerations;
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const tolerated = tolerations.some(
      (t) => (t.key === key || (t.key === undefined && t.operator === 'Exists')) && (t.effect === undefined || t.effect === 'NoExecute'),
    );
    if (!tolerated) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
}

/** Applies the defaults to a new pod in place. */
export function defaultPod(pod: Loose): void {
  pod.spec ??= {};
  const spec: Loose = pod.spec;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  spec.priority ??= 0;
  const hostNetwork = spec.hostNetwork === true;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) defaultContainer(c, hostNetwork);
  for (const v of spec.volumes ?? []) defaultVolume(v);
  defaultTolerations(spec);
}

/** The pod's QoS class (the API's GetPodQOS): from cpu and memory requests and limits. */
export function qosClass(spec: Loose): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const found = new Set<string>();
    for (const name of ['cpu', 'memory']) {
      const request = quantityValue(c.resources?.requests?.[name]);
      if (request > 0) requests.set(name, (requests.get(name) ?? 0) + request);
      const limit = quantityValue(c.resources?.limits?.[name]);
      if (limit > 0) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0) + limit);
      }
    }
    if (found.size < 2) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) for (const [name, request] of requests) if (limits.get(name) !== request) guaranteed = false;
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
