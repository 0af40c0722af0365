// The service environment variables the kubelet gives every container (getServiceEnvVarMap):
// those of the `kubernetes` service in `default` always, and, unless the pod sets
// enableServiceLinks to false, Docker-link style ones for every service of the pod's namespace
// that has a cluster IP. Explicit env of the container wins over them (container-env.ts).
import type { Pod, Service } from './k8s-types.ts';
import type { ServiceSource } from './provider.ts';

/** The services of `default` whose variables every pod gets (the kubelet's master services). */
const MASTER_SERVICES = new Set(['kubernetes']);

/** `my-svc` ▶ `MY_SVC`. */
export function serviceVariablePrefix(name: string): string {
  return name.toUpperCase().replaceAll('-', '_');
}

/** Headless (`None`) and ExternalName services have no cluster IP, so no variables. */
function hasClusterIP(service: Service): boolean {
  const ip = service.spec?.clusterIP;
  return ip !== undefined && ip !== '' && ip !== 'None';
}

const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** One service's variables, in the kubelet's order. */
export function serviceVariables(service: Service): [string, string][] {
  const prefix = serviceVariablePrefix(service.metadata.name ?? '');
  const ip = service.spec?.clusterIP ?? '';
  const ports = service.spec?.ports ?? [];
  const vars: [string, string][] = [[`${prefix}_SERVICE_HOST`, ip]];
  if (ports.length === 0) return vars;
  vars.push([`${prefix}_SERVICE_PORT`, String(ports[0]!.port)]);
  for (const p of ports) if (p.name) vars.push([`${prefix}_SERVICE_PORT_${serviceVariablePrefix(p.name)}`, String(p.port)]);
  ports.forEach((p, i) => {
    const protocol = (p.protocol || 'TCP').toLowerCase();
    const url = `${protocol}://${hostPort(ip, p.port)}`;
    if (i === 0) vars.push([`${prefix}_PORT`, url]);
    const portPrefix = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    vars.push([portPrefix, url], [`${portPrefix}_PROTO`, protocol], [`${portPrefix}_PORT`, String(p.port)], [`${portPrefix}_ADDR`, ip]);
  });
  return vars;
}

/**
 * The variables for a pod in `namespace` from the services of `default` and of the namespace: a
 * namespace's own service replaces a master service of the same name.
 */
export function serviceEnvFrom(namespace: string, enableServiceLinks: boolean, services: readonly Service[]): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const service of services) {
    if (!hasClusterIP(service)) continue;
    const name = service.metadata.name ?? '';
    const ns = service.metadata.namespace ?? 'default';
    if (ns === 'default' && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, service);
    } else if (ns === namespace && enableServiceLinks) chosen.set(name, service);
  }
  const env = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) for (const [k, v] of serviceVariables(chosen.get(name)!)) env.set(k, v);
  return env;
}

/** The pod's service variables; none without a service source (standalone mode, as a kubelet without an API server). */
export async function podServiceEnv(pod: Pod, source: ServiceSource | undefined, signal: AbortSignal): Promise<Map<string, string>> {
  if (source === undefined) return new Map();
  const namespace = pod.metadata.namespace ?? 'default';
  const links = pod.spec.enableServiceLinks !== false;
  const services = [...(await source.listServices('default', signal))];
  if (links && namespace !== 'default') services.push(...(await source.listServices(namespace, signal)));
  return serviceEnvFrom(namespace, links, services);
}
