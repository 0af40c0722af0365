// The /etc/hosts the kubelet gives every container of a pod (kubelet_pods.go makeHostsMount):
// `<podDir>/etc-hosts`, rewritten before each container start and bind-mounted read-write at
// /etc/hosts unless the container mounts something there itself. Pods on the pod network get a
// generated file (localhost, the pod's IPs with its hostname, the host aliases); host-network pods
// get the node's own file followed by the host aliases.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Container, HostAlias, Pod } from '../../agent/k8s-types.ts';
import { podUid } from '../../agent/k8s-types.ts';
import { podHostname } from './sandbox-config.ts';
import type { CriMount } from './volumes/container-mounts.ts';
import { podDir } from './volumes/volume-paths.ts';

export const ETC_HOSTS = '/etc/hosts';
const MANAGED_HEADER = '# Kubernetes-managed hosts file.\n';
const HOST_NETWORK_HEADER = '# Kubernetes-managed hosts file (host network).\n';

export function etcHostsPath(rootDir: string, uid: string): string {
  return path.join(podDir(rootDir, uid), 'etc-hosts');
}

/** The host aliases' section: a blank line, a comment, then one line per IP with all its hostnames. */
export function hostAliasEntries(aliases: readonly HostAlias[] | undefined): string {
  if (aliases === undefined || aliases.length === 0) return '';
  return `\n# Entries added by HostAliases.\n${aliases.map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`).join('')}`;
}

/** The generated file of a pod on the pod network; `domain` is `<subdomain>.<namespace>.svc.<cluster domain>` or empty. */
export function managedHostsContent(podIPs: readonly string[], hostname: string, domain: string, aliases?: readonly HostAlias[]): string {
  const lines = [
    MANAGED_HEADER,
    '127.0.0.1\tlocalhost\n',
    '::1\tlocalhost ip6-localhost ip6-loopback\n',
    'fe00::0\tip6-localnet\n',
    'fe00::0\tip6-mcastprefix\n',
    'fe00::1\tip6-allnodes\n',
    'fe00::2\tip6-allrouters\n',
    ...podIPs.map((ip) => (domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`)),
  ];
  return lines.join('') + hostAliasEntries(aliases);
}

/** The node's hosts file as a host-network pod sees it. */
export function hostNetworkHostsContent(nodeHosts: string, aliases?: readonly HostAlias[]): string {
  return HOST_NETWORK_HEADER + nodeHosts + hostAliasEntries(aliases);
}

/** The pod's hostname and DNS domain as its hosts file names them (GeneratePodHostNameAndDomain). */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; domain: string } {
  const hostname = podHostname({ ...pod, spec: { ...pod.spec, setHostnameAsFQDN: false } }, clusterDomain);
  const domain = pod.spec.subdomain ? `${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${clusterDomain}` : '';
  return { hostname, domain };
}

export interface HostsFileSettings {
  rootDir: string;
  clusterDomain: string;
  /** The node's hosts file, copied for host-network pods. */
  nodeHostsFile?: string;
}

/**
 * Writes the pod's hosts file and returns its mount for `container`; undefined when the
 * container mounts a volume at /etc/hosts, or when a pod on the pod network has no IP yet.
 */
export async function hostsFileMount(
  pod: Pod,
  container: Container,
  podIPs: readonly string[],
  settings: HostsFileSettings,
): Promise<CriMount | undefined> {
  const hostNetwork = pod.spec.hostNetwork === true;
  if (podIPs.length === 0 && !hostNetwork) return undefined;
  if ((container.volumeMounts ?? []).some((m) => m.mountPath === ETC_HOSTS)) return undefined;
  const file = etcHostsPath(settings.rootDir, podUid(pod));
  let content: string;
  if (hostNetwork) {
    content = hostNetworkHostsContent(await readFile(settings.nodeHostsFile ?? ETC_HOSTS, 'utf8'), pod.spec.hostAliases);
  } else {
    const { hostname, domain } = podHostnameAndDomain(pod, settings.clusterDomain);
    content = managedHostsContent(podIPs, hostname, domain, pod.spec.hostAliases);
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
  await writeFile(file, content, { mode: 0o644 });
  await chmod(file, 0o644);
  return { containerPath: ETC_HOSTS, hostPath: file, readonly: false };
}
