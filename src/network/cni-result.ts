// CNI results of every spec version, read into one shape, and the pod IPs in them.
import { isIP } from 'node:net';

export interface CniInterface {
  name: string;
  mac?: string;
  /** The namespace path (or VM id) for an interface inside the sandbox; absent for host-side ones. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR: `10.88.0.5/16`. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the 1.0.0 shape, whatever version the plugin printed; `raw` is what it printed. */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns?: CniDns;
  raw: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function routes(v: unknown): CniRoute[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((r) => {
    const o = obj(r);
    const dst = str(o?.dst);
    return dst === undefined ? [] : [{ dst, ...(str(o?.gw) ? { gw: str(o?.gw) } : {}) }];
  });
}

function dns(v: unknown): CniDns | undefined {
  const o = obj(v);
  if (o === undefined) return undefined;
  const out: CniDns = {};
  if (strings(o.nameservers)) out.nameservers = strings(o.nameservers);
  if (str(o.domain)) out.domain = str(o.domain);
  if (strings(o.search)) out.search = strings(o.search);
  if (strings(o.options)) out.options = strings(o.options);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Reads a result: 0.3.x / 0.4.0 / 1.x (`interfaces`, `ips` with an interface index, `routes`, `dns`)
 * or 0.1.0 / 0.2.0 (`ip4`, `ip6`, each with `ip`, `gateway`, `routes`). Unknown fields are kept in `raw`.
 */
export function parseCniResult(raw: Record<string, unknown>): CniResult {
  const cniVersion = str(raw.cniVersion) ?? '0.1.0';
  const result: CniResult = { cniVersion, interfaces: [], ips: [], routes: [], raw };
  const d = dns(raw.dns);
  if (d) result.dns = d;
  if (raw.ip4 !== undefined || raw.ip6 !== undefined) {
    for (const key of ['ip4', 'ip6']) {
      const o = obj(raw[key]);
      const address = str(o?.ip);
      if (address === undefined) continue;
      result.ips.push({ address, ...(str(o?.gateway) ? { gateway: str(o?.gateway) } : {}) });
      result.routes.push(...routes(o?.routes));
    }
    return result;
  }
  if (Array.isArray(raw.interfaces)) {
    for (const i of raw.interfaces) {
      const o = obj(i);
      const iface: CniInterface = { name: str(o?.name) ?? '' };
      if (str(o?.mac)) iface.mac = str(o?.mac);
      if (str(o?.sandbox)) iface.sandbox = str(o?.sandbox);
      result.interfaces.push(iface);
    }
  }
  if (Array.isArray(raw.ips)) {
    for (const i of raw.ips) {
      const o = obj(i);
      const address = str(o?.address);
      if (address === undefined) continue;
      const ip: CniIpConfig = { address };
      if (str(o?.gateway)) ip.gateway = str(o?.gateway);
      if (typeof o?.interface === 'number' && Number.isInteger(o.interface)) ip.interface = o.interface;
      result.ips.push(ip);
    }
  }
  result.routes = routes(raw.routes);
  return result;
}

/**
 * The pod's IPs in a result, IPv4 first then IPv6 (the kubelet takes the first as the pod IP): the
 * addresses on the sandbox interface named `ifName` (any sandbox interface when none has that
 * name), plus addresses that name no interface. Host-side addresses (a bridge gateway) are left out.
 */
export function podIps(result: CniResult, ifName = 'eth0'): string[] {
  const inSandbox = result.interfaces.map((i, index) => ({ ...i, index })).filter((i) => i.sandbox !== undefined);
  const named = inSandbox.filter((i) => i.name === ifName);
  const chosen = new Set((named.length > 0 ? named : inSandbox).map((i) => i.index));
  const ips: string[] = [];
  for (const ip of result.ips) {
    if (ip.interface !== undefined && result.interfaces.length > 0 && !chosen.has(ip.interface)) continue;
    const address = ip.address.split('/')[0]!;
    if (isIP(address) !== 0 && !ips.includes(address)) ips.push(address);
  }
  return [...ips.filter((a) => isIP(a) === 4), ...ips.filter((a) => isIP(a) === 6)];
}
