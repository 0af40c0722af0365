// Which known container-escape fixes a runc build lacks, from `runc --version`. A node whose runc
// lacks one lets a container (or an image) reach the host: the daemon warns at start, or refuses
// to start when told to.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface EscapeFix {
  cve: string;
  /** The first fixed release of each maintained branch (major.minor.patch); newer branches have it. */
  fixedIn: string[];
  /** Distribution builds of older releases with the fix backported (matched against the commit line). */
  backported?: RegExp[];
}

/** runc's container escapes (CVE-2019-5736 is older than every 1.x release). */
export const RUNC_ESCAPE_FIXES: readonly EscapeFix[] = [
  // Leaked /sys/fs/cgroup file descriptor ("Leaky Vessels"); Debian 12 backported it in DSA-5615.
  { cve: 'CVE-2024-21626', fixedIn: ['1.1.12'], backported: [/^1\.1\.5\+ds1-1\+deb12u[1-9]/] },
  // Mount races on /dev/null, /dev/console and procfs writes (November 2025).
  { cve: 'CVE-2025-31133', fixedIn: ['1.2.8', '1.3.3', '1.4.0'] },
  { cve: 'CVE-2025-52565', fixedIn: ['1.2.8', '1.3.3', '1.4.0'] },
  { cve: 'CVE-2025-52881', fixedIn: ['1.2.8', '1.3.3', '1.4.0'] },
];

export interface RuntimeVersion {
  /** `1.1.5`, without build suffixes; undefined when the output had no version. */
  version: string | undefined;
  /** The `commit:` line, where distributions put their package revision. */
  commit: string;
}

export function parseRuncVersion(output: string): RuntimeVersion {
  const version = /^runc version (\d+\.\d+\.\d+(?:-rc[.\d]*)?)/m.exec(output)?.[1];
  const commit = /^commit:\s*(\S+)/m.exec(output)?.[1] ?? '';
  return { version, commit };
}

type Parts = [number, number, number, number];

/** major, minor, patch, and a pre-release (an rc) below the release itself. */
function parts(v: string): Parts {
  const m = /^(\d+)\.(\d+)\.(\d+)(-rc\.?(\d+))?/.exec(v);
  if (m === null) return [0, 0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[5] ?? 0)];
}

function compare(a: Parts, b: Parts): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function hasFix(v: RuntimeVersion, fix: EscapeFix): boolean {
  if (fix.backported?.some((re) => re.test(v.commit) || re.test(v.version ?? ''))) return true;
  if (v.version === undefined) return false;
  const have = parts(v.version);
  const branches = fix.fixedIn.map(parts).sort(compare);
  const newest = branches.at(-1)!;
  if (have[0] > newest[0] || (have[0] === newest[0] && have[1] > newest[1])) return true;
  const same = branches.find((b) => b[0] === have[0] && b[1] === have[1]);
  return same !== undefined && compare(have, same) >= 0;
}

/** The CVEs of `fixes` this build lacks. */
export function missingFixes(v: RuntimeVersion, fixes: readonly EscapeFix[] = RUNC_ESCAPE_FIXES): string[] {
  return fixes.filter((f) => !hasFix(v, f)).map((f) => f.cve);
}

/** Runs `<runc> --version`; undefined when it cannot be run. */
export async function readRuncVersion(binary: string): Promise<RuntimeVersion | undefined> {
  try {
    const { stdout } = await promisify(execFile)(binary, ['--version'], { timeout: 10_000 });
    return parseRuncVersion(stdout);
  } catch {
    return undefined;
  }
}
