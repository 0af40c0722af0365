// A pod's resolver settings from dnsPolicy and dnsConfig, as the kubelet's DNS configurer forms
// them (pkg/kubelet/network/dns): cluster DNS, the host's resolv.conf, or nothing, then the pod's
// dnsConfig merged in, then the resolver's limits applied.
import type { Pod } from './k8s-types.ts';

export interface ResolverConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface NodeDnsSettings {
  /** Cluster DNS server addresses (kubelet --cluster-dns); empty in standalone mode. */
  clusterDns: string[];
  /** kubelet --cluster-domain, e.g. cluster.local; empty when unknown. */
  clusterDomain: string;
  /** The parsed host resolv.conf (kubelet --resolv-conf); undefined when that flag is empty. */
  hostResolver: ResolverConfig | undefined;
}

export interface PodDnsResult {
  config: ResolverConfig;
  /** Things the kubelet reports as events (MissingClusterDNS, DNSConfigForming). */
  warnings: string[];
}

const MAX_NAMESERVERS = 3;
const MAX_SEARCH_DOMAINS = 32;
const MAX_SEARCH_CHARS = 2048;

/** resolv.conf text as the kubelet reads it: nameservers, the last search line, options merged by name. */
export function parseResolvConf(text: string): ResolverConfig {
  const servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...fields] = line.split(/\s+/);
    if (keyword === 'nameserver' && fields[0] !== undefined) servers.push(fields[0]);
    else if (keyword === 'search') searches = fields.filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    else if (keyword === 'options') options = mergeOptions(options, fields.map(splitOption));
  }
  return { servers, searches, options };
}

function splitOption(option: string): { name: string; value?: string } {
  const colon = option.indexOf(':');
  return colon === -1 ? { name: option } : { name: option.slice(0, colon), value: option.slice(colon + 1) };
}

/** Options by name, a later one replacing an earlier one in place. */
function mergeOptions(existing: string[], added: { name: string; value?: string }[]): string[] {
  const byName = new Map<string, string>();
  for (const { name, value } of [...existing.map(splitOption), ...added]) byName.set(name, value ?? '');
  return [...byName].map(([name, value]) => (value === '' ? name : `${name}:${value}`));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

type DnsType = 'none' | 'cluster' | 'host';

function dnsType(pod: Pod): DnsType {
  switch (pod.spec.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'ClusterFirst':
      return pod.spec.hostNetwork ? 'host' : 'cluster';
    default:
      return 'host';
  }
}

function hostDefaults(node: NodeDnsSettings): ResolverConfig {
  if (node.hostResolver !== undefined) {
    return { servers: [...node.hostResolver.servers], searches: [...node.hostResolver.searches], options: [...node.hostResolver.options] };
  }
  // No resolv.conf: lookups go to the local machine, as the bind documentation describes.
  return { servers: ['127.0.0.1'], searches: ['.'], options: [] };
}

function fitLimits(config: ResolverConfig, warnings: string[]): ResolverConfig {
  let { servers, searches } = config;
  if (servers.length > MAX_NAMESERVERS) {
    warnings.push(
      `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${servers.slice(0, MAX_NAMESERVERS).join(' ')}`,
    );
    servers = servers.slice(0, MAX_NAMESERVERS);
  }
  const kept: string[] = [];
  let chars = 0;
  for (const domain of searches) {
    if (kept.length === MAX_SEARCH_DOMAINS || chars + domain.length + (kept.length > 0 ? 1 : 0) > MAX_SEARCH_CHARS) break;
    chars += domain.length + (kept.length > 0 ? 1 : 0);
    kept.push(domain);
  }
  if (kept.length < searches.length) {
    warnings.push(`Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${kept.join(' ')}`);
    searches = kept;
  }
  return { servers, searches, options: config.options };
}

export function podDnsConfig(pod: Pod, node: NodeDnsSettings): PodDnsResult {
  const warnings: string[] = [];
  let config: ResolverConfig;
  const type = dnsType(pod);
  if (type === 'none') {
    config = { servers: [], searches: [], options: [] };
  } else if (type === 'cluster' && node.clusterDns.length > 0) {
    const host = hostDefaults(node);
    const domain = node.clusterDomain;
    const clusterSearch = domain === '' ? [] : [`${pod.metadata.namespace ?? 'default'}.svc.${domain}`, `svc.${domain}`, domain];
    config = { servers: [...node.clusterDns], searches: unique([...clusterSearch, ...host.searches]), options: ['ndots:5'] };
  } else {
    if (type === 'cluster') {
      warnings.push(
        'MissingClusterDNS: the node has no cluster DNS configured and cannot create a pod using "ClusterFirst" policy. Falling back to "Default" policy.',
      );
    }
    config = hostDefaults(node);
  }
  const extra = pod.spec.dnsConfig;
  if (extra !== undefined) {
    config = {
      servers: unique([...config.servers, ...(extra.nameservers ?? [])]),
      searches: unique([...config.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(config.options, extra.options ?? []),
    };
  }
  return { config: fitLimits(config, warnings), warnings };
}
