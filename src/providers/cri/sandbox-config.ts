// A pod's CRI sandbox config, as the kubelet generates it (kuberuntime_sandbox.go
// generatePodSandboxConfig): metadata with the attempt, hostname, log directory, DNS, port
// mappings for container ports with a hostPort, the kubelet's labels, the pod's annotations,
// namespaces, sysctls and security context.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Pod } from '../../agent/k8s-types.ts';
import type { ResolverConfig } from '../../agent/pod-dns.ts';
import type { PodSandboxConfigSchema, PortMappingSchema } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { Protocol } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from './kubelet-labels.ts';
import { sandboxSecurityContext } from './security-context.ts';

export type PodSandboxConfigInit = MessageInitShape<typeof PodSandboxConfigSchema>;
type PortMappingInit = MessageInitShape<typeof PortMappingSchema>;

export interface SandboxSettings {
  /** The root of pod log directories (kubelet: /var/log/pods). */
  podLogsRoot: string;
  dns: ResolverConfig;
  /** Parent cgroup for the pod; empty leaves it to the runtime. */
  cgroupParent: string;
  /** kubelet --cluster-domain, for subdomain FQDNs. */
  clusterDomain: string;
}

/** `<root>/<namespace>_<name>_<uid>`, where the kubelet keeps a pod's container logs. */
export function podLogDirectory(root: string, pod: Pod): string {
  return `${root}/${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`;
}

/** The pod's hostname and, with a subdomain, its domain (GeneratePodHostNameAndDomain). */
export function podHostname(pod: Pod, clusterDomain: string): string {
  let hostname = pod.spec.hostname || pod.metadata.name || '';
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, '');
  if (pod.spec.setHostnameAsFQDN && pod.spec.subdomain) {
    return `${hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${clusterDomain}`;
  }
  return hostname;
}

const PROTOCOLS = { TCP: Protocol.TCP, UDP: Protocol.UDP, SCTP: Protocol.SCTP } as const;

/** One mapping per container port that has a hostPort. */
export function portMappings(pod: Pod): PortMappingInit[] {
  return pod.spec.containers.flatMap((c) =>
    (c.ports ?? [])
      .filter((p) => (p.hostPort ?? 0) > 0)
      .map((p) => ({
        protocol: PROTOCOLS[p.protocol ?? 'TCP'],
        containerPort: p.containerPort,
        hostPort: p.hostPort!,
        hostIp: p.hostIP ?? '',
      })),
  );
}

/** The labels the kubelet puts on a sandbox: the pod's, plus its name, namespace and UID. */
export function sandboxLabels(pod: Pod): Record<string, string> {
  return {
    ...pod.metadata.labels,
    [POD_NAME_LABEL]: pod.metadata.name ?? '',
    [POD_NAMESPACE_LABEL]: pod.metadata.namespace ?? '',
    [POD_UID_LABEL]: pod.metadata.uid ?? '',
  };
}

export function sandboxConfig(pod: Pod, attempt: number, settings: SandboxSettings): PodSandboxConfigInit {
  const sysctls = Object.fromEntries((pod.spec.securityContext?.sysctls ?? []).map((s) => [s.name, s.value]));
  return {
    metadata: { name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? '', uid: pod.metadata.uid ?? '', attempt },
    // A host-network pod keeps the node's hostname.
    hostname: pod.spec.hostNetwork ? '' : podHostname(pod, settings.clusterDomain),
    logDirectory: podLogDirectory(settings.podLogsRoot, pod),
    dnsConfig: settings.dns,
    portMappings: portMappings(pod),
    labels: sandboxLabels(pod),
    annotations: { ...pod.metadata.annotations },
    linux: {
      cgroupParent: settings.cgroupParent,
      securityContext: sandboxSecurityContext(pod),
      sysctls,
    },
  };
}
