// The defaults the API server fills in for a Pod (SetDefaults_Pod, _Container, _Probe, …), for pods
// that do not come through an API server: static pods from manifest files.
import type { Container, Lifecycle, Pod, Probe, PullPolicy } from './k8s-types.ts';

/** The tag of an image reference: `latest` when it has neither tag nor digest, '' with a digest only. */
export function imageTag(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastPart = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastPart.indexOf(':');
  if (colon !== -1) return lastPart.slice(colon + 1);
  return image.includes('@') ? '' : 'latest';
}

export function defaultPullPolicy(image: string): PullPolicy {
  return imageTag(image) === 'latest' ? 'Always' : 'IfNotPresent';
}

function probeDefaults(probe: Probe | undefined): Probe | undefined {
  if (probe === undefined) return undefined;
  const result: Probe = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3, ...probe };
  if (probe.httpGet) result.httpGet = { path: '/', scheme: 'HTTP', ...probe.httpGet };
  return result;
}

/** httpGet hooks get path `/` and scheme HTTP, as probes do. */
function lifecycleDefaults(lifecycle: Lifecycle): Lifecycle {
  const result: Lifecycle = { ...lifecycle };
  for (const hook of ['postStart', 'preStop'] as const) {
    const handler = lifecycle[hook];
    if (handler?.httpGet) result[hook] = { ...handler, httpGet: { path: '/', scheme: 'HTTP', ...handler.httpGet } };
  }
  return result;
}

function containerDefaults(container: Container, hostNetwork: boolean): Container {
  const result: Container = {
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    ...container,
    imagePullPolicy: container.imagePullPolicy ?? defaultPullPolicy(container.image ?? ''),
  };
  if (container.ports) {
    result.ports = container.ports.map((port) => ({
      ...port,
      protocol: port.protocol ?? 'TCP',
      ...(hostNetwork && !port.hostPort ? { hostPort: port.containerPort } : {}),
    }));
  }
  const limits = container.resources?.limits;
  if (limits !== undefined) {
    result.resources = { ...container.resources, requests: { ...limits, ...container.resources?.requests } };
  }
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const probe = probeDefaults(container[key]);
    if (probe !== undefined) result[key] = probe;
  }
  if (container.lifecycle) result.lifecycle = lifecycleDefaults(container.lifecycle);
  return result;
}

/** A copy of `pod` with the API server's defaults applied; fields already set are kept. */
export function withPodDefaults(pod: Pod): Pod {
  const hostNetwork = pod.spec.hostNetwork === true;
  return {
    ...pod,
    metadata: { ...pod.metadata, namespace: pod.metadata.namespace || 'default' },
    spec: {
      ...pod.spec,
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      dnsPolicy: pod.spec.dnsPolicy ?? 'ClusterFirst',
      terminationGracePeriodSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
      containers: pod.spec.containers.map((c) => containerDefaults(c, hostNetwork)),
      ...(pod.spec.initContainers ? { initContainers: pod.spec.initContainers.map((c) => containerDefaults(c, hostNetwork)) } : {}),
    },
  };
}
