// Linux capability names, and the add/drop arithmetic of a CRI security context.

import { invalidArgument } from '../../errors/errors.ts';
import type { LinuxCapabilities } from '../../oci/runtime-spec.ts';

/** Every capability the kernel knows, indexed by its number (linux/capability.h). */
export const KNOWN_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
]);

const known = new Set(KNOWN_CAPABILITIES);

/** "net_admin", "NET_ADMIN", "cap_net_admin" → "CAP_NET_ADMIN"; "all" → "ALL". Does not validate. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL' || upper.startsWith('CAP_')) return upper;
  return `CAP_${upper}`;
}

/** Like normalizeCapability, but an unknown name is an invalid-argument error. */
export function parseCapability(name: string, what: 'add' | 'drop' = 'add'): string {
  const cap = normalizeCapability(name);
  if (!known.has(cap)) {
    throw invalidArgument('unknown-capability', `unknown capability ${JSON.stringify(name)} to ${what}`, { fields: { capability: name } });
  }
  return cap;
}

/**
 * The capability names of a hexadecimal mask as /proc/<pid>/status shows it (CapBnd: 000001ffffffffff),
 * in number order; bits beyond the known capabilities are ignored.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim() || '0'}`);
  const out: string[] = [];
  KNOWN_CAPABILITIES.forEach((cap, bit) => {
    if ((mask >> BigInt(bit)) & 1n) out.push(cap);
  });
  return out;
}

/** The bounding set of a process from the text of /proc/<pid>/status. */
export function boundingCapabilitiesFromStatus(status: string): string[] {
  const m = /^CapBnd:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  if (m === null) throw invalidArgument('bad-proc-status', 'no CapBnd line in the process status');
  return capabilitiesFromMask(m[1]!);
}

/** The capability sets of a process that holds `caps` (no inheritable, no ambient). */
export function capabilitySets(caps: readonly string[]): LinuxCapabilities {
  return { bounding: [...caps], effective: [...caps], permitted: [...caps] };
}

/**
 * Applies a CRI add/drop request to a starting set, the way containerd and CRI-O do: "ALL" in add
 * starts from every capability, "ALL" in drop from none, then the named ones are added, then the
 * named ones dropped (so add ["ALL"] + drop ["CHOWN"] is everything but CAP_CHOWN). Names are
 * case-insensitive, with or without the CAP_ prefix; unknown names are rejected.
 */
export function applyCapabilityChanges(
  base: readonly string[],
  add: readonly string[] = [],
  drop: readonly string[] = [],
  all: readonly string[] = KNOWN_CAPABILITIES,
): string[] {
  const adds = add.map((c) => normalizeCapability(c));
  const drops = drop.map((c) => normalizeCapability(c));
  let caps: string[] = [...base];
  if (adds.includes('ALL')) caps = [...all];
  if (drops.includes('ALL')) caps = [];
  for (const c of add) {
    if (normalizeCapability(c) === 'ALL') continue;
    const cap = parseCapability(c, 'add');
    if (!caps.includes(cap)) caps.push(cap);
  }
  for (const c of drop) {
    if (normalizeCapability(c) === 'ALL') continue;
    const cap = parseCapability(c, 'drop');
    caps = caps.filter((x) => x !== cap);
  }
  return caps;
}
