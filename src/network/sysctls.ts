// Namespaced sysctls: which a pod may set, and where each lives under /proc/sys.
// Kubernetes lets pods set only sysctls that the kernel keeps per namespace (kubelet's
// pkg/kubelet/sysctl/namespace.go): net.* in the network namespace, kernel.shm*, kernel.msg*,
// kernel.sem and fs.mqueue.* in the IPC namespace. Anything else would change the whole node.
import { invalidArgument } from '../errors/errors.ts';

export type SysctlNamespace = 'net' | 'ipc';

export interface ParsedSysctl {
  /** The name in dotted form with '/' inside components, as the kubelet writes it: `net.ipv4.conf.eth0/100.forwarding`. */
  name: string;
  /** The file under /proc/sys: `net/ipv4/conf/eth0.100/forwarding`. */
  path: string;
  namespace: SysctlNamespace;
  value: string;
}

export interface SysctlScope {
  /** The pod has its own network namespace (not host network). */
  network: boolean;
  /** The pod has its own IPC namespace (not host IPC). */
  ipc: boolean;
}

const COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$/;
const MAX_VALUE = 4096;

/**
 * Splits a sysctl name into path components. Both of the kubelet's spellings are accepted: with
 * dots as separators, where a '/' stands for a dot inside a component (`net.ipv4.conf.eth0/100.rp_filter`),
 * and with slashes as separators, where dots are literal (`net/ipv4/conf/eth0.100/rp_filter`). The
 * first separator in the name tells which one it is.
 */
function components(name: string): string[] {
  const firstDot = name.indexOf('.');
  const firstSlash = name.indexOf('/');
  const slashForm = firstSlash >= 0 && (firstDot < 0 || firstSlash < firstDot);
  return slashForm ? name.split('/') : name.split('.').map((c) => c.replaceAll('/', '.'));
}

function namespaceOf(parts: string[]): SysctlNamespace | undefined {
  const [top, second = ''] = parts;
  if (top === 'net' && parts.length >= 2) return 'net';
  if (top === 'kernel' && parts.length === 2) {
    if (second.startsWith('shm') || second.startsWith('msg') || second === 'sem') return 'ipc';
  }
  if (top === 'fs' && second === 'mqueue' && parts.length >= 3) return 'ipc';
  return undefined;
}

/**
 * Checks one sysctl against what a pod may set. Throws invalid-argument with code `sysctl-invalid`
 * (malformed name or value), `sysctl-not-namespaced` (a node-wide sysctl), or `sysctl-host-namespace`
 * (a network sysctl for a host-network pod, an IPC sysctl for a host-IPC pod).
 */
export function parseSysctl(name: string, value: string, scope: SysctlScope): ParsedSysctl {
  const fields = { sysctl: name, value };
  const parts = components(name);
  if (name === '' || parts.some((p) => p === '.' || p === '..' || !COMPONENT.test(p))) {
    throw invalidArgument('sysctl-invalid', `invalid sysctl name "${name}"`, { fields });
  }
  if (typeof value !== 'string' || value.length > MAX_VALUE || /[\n\r\0]/.test(value)) {
    throw invalidArgument('sysctl-invalid', `invalid value for sysctl "${name}": no newlines, at most ${MAX_VALUE} bytes`, { fields });
  }
  const namespace = namespaceOf(parts);
  if (namespace === undefined) {
    throw invalidArgument(
      'sysctl-not-namespaced',
      `sysctl "${name}" is not namespaced: a pod may set only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*`,
      { fields },
    );
  }
  if (namespace === 'net' && !scope.network) {
    throw invalidArgument('sysctl-host-namespace', `sysctl "${name}" is not allowed for a pod on the host network`, { fields });
  }
  if (namespace === 'ipc' && !scope.ipc) {
    throw invalidArgument('sysctl-host-namespace', `sysctl "${name}" is not allowed for a pod in the host IPC namespace`, { fields });
  }
  return { name: parts.map((p) => p.replaceAll('.', '/')).join('.'), path: parts.join('/'), namespace, value };
}

/** Checks every sysctl (see parseSysctl); the first bad one throws. */
export function parseSysctls(sysctls: Readonly<Record<string, string>> | undefined, scope: SysctlScope): ParsedSysctl[] {
  return Object.entries(sysctls ?? {}).map(([name, value]) => parseSysctl(name, value, scope));
}
