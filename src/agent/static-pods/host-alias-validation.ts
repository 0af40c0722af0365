// spec.hostAliases as the API server checks it (ValidateHostAliases with strict IP checking): each
// IP a valid address without leading zeros and not IPv4-mapped, each hostname a DNS-1123 subdomain.
// Host-network pods may have them too.
import { isIP, isIPv4 } from 'node:net';
import type { HostAlias } from '../k8s-types.ts';
import { dns1123SubdomainProblem } from './dns-names.ts';
import type { FieldErrors } from './field-errors.ts';

/** Dotted quads that only a lenient parser reads: some octet has a leading zero. */
const SLOPPY_IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipProblem(value: string): string | undefined {
  const sloppy = SLOPPY_IPV4.exec(value);
  if (sloppy !== null && !isIPv4(value) && sloppy.slice(1).every((o) => Number(o) <= 255)) return 'must not have leading 0s';
  if (isIP(value) === 0) return 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
  const mapped = /^::ffff:(.+)$/i.exec(value);
  if (mapped !== null && isIPv4(mapped[1]!)) return 'must not be an IPv4-mapped IPv6 address';
  return undefined;
}

export function validateHostAliases(errors: FieldErrors, aliases: readonly HostAlias[] | undefined): void {
  (aliases ?? []).forEach((alias, i) => {
    const at = `spec.hostAliases[${i}]`;
    const ip = typeof alias.ip === 'string' ? alias.ip : '';
    const problem = ipProblem(ip);
    if (problem !== undefined) errors.invalid(`${at}.ip`, ip, problem);
    (alias.hostnames ?? []).forEach((hostname, j) => {
      const path = `${at}.hostnames[${j}]`;
      const hostnameProblem = dns1123SubdomainProblem(hostname);
      if (hostnameProblem !== undefined) errors.invalid(path, hostname, hostnameProblem);
    });
  });
}
