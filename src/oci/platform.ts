// Platforms (os/architecture/variant) and choosing an index entry for one, following containerd's
// rules: names are normalised (x86_64 → amd64, aarch64 → arm64, arm64/v8 → arm64, arm → arm/v7),
// and a platform also runs the ones it is compatible with, in order of preference:
//   amd64/vN → amd64/vN-1 … amd64, then 386
//   arm64    → arm/v8, arm/v7, arm/v6, arm/v5
//   arm/vN   → arm/vN-1 … arm/v5
// The exact (normalised) platform always comes first.
import { invalidArgument, notFound } from '../errors/errors.ts';
import type { Descriptor, ImageIndex, Platform } from './image-spec.ts';

export type { Platform } from './image-spec.ts';

/** Normalises os, architecture and variant as containerd does. */
export function normalizePlatform(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  const out: Platform = { os, architecture: arch };
  if (variant !== '') out.variant = variant;
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = p['os.features'];
  return out;
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** Parses `os/arch[/variant]` (also `arch` or `os` alone, completed from the current platform). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  const ok = /^[A-Za-z0-9_.-]+$/;
  if (parts.length > 3 || parts.some((x) => !ok.test(x))) {
    throw invalidArgument('bad-platform', `invalid platform "${s}": expected os/arch[/variant]`, { fields: { platform: s } });
  }
  const here = currentPlatform();
  if (parts.length === 1) {
    const only = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(only)) return normalizePlatform({ os: only, architecture: here.architecture, ...variantOf(here) });
    return normalizePlatform({ os: here.os, architecture: only });
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return normalizePlatform({ os, architecture, ...(variant === undefined ? {} : { variant }) });
}

const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
]);

function variantOf(p: Platform): { variant?: string } {
  return p.variant === undefined ? {} : { variant: p.variant };
}

const NODE_ARCH: Record<string, [string, string?]> = {
  x64: ['amd64'],
  arm64: ['arm64', 'v8'],
  ia32: ['386'],
  ppc64: ['ppc64le'],
  s390x: ['s390x'],
  riscv64: ['riscv64'],
  loong64: ['loong64'],
  mips: ['mips'],
  mipsel: ['mipsle'],
};

/**
 * The platform this process runs on, in OCI names (not normalised: arm64 carries variant v8,
 * as containerd's default platform does). Node's `x64` is `amd64`, `arm` gets its ARM version.
 */
export function currentPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  if (process.arch === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os, architecture: 'arm', variant: `v${v ?? '7'}` };
  }
  const [architecture, variant] = NODE_ARCH[process.arch] ?? [process.arch];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** The platforms `platform` can run, most preferred first (normalised). */
export function compatiblePlatforms(platform: Platform): Platform[] {
  const p = normalizePlatform(platform);
  const base = { os: p.os, ...(p['os.version'] === undefined ? {} : { 'os.version': p['os.version'] }) };
  const out: Platform[] = [p];
  const num = (v: string | undefined) => (v === undefined ? Number.NaN : Number.parseInt(v.replace(/^v/, ''), 10));
  switch (p.architecture) {
    case 'amd64': {
      const n = num(p.variant);
      for (let v = n - 1; v >= 1; v--) out.push({ ...base, architecture: 'amd64', ...(v > 1 ? { variant: `v${v}` } : {}) });
      out.push({ ...base, architecture: '386' });
      break;
    }
    case 'arm': {
      const n = num(p.variant);
      for (let v = n - 1; v >= 5; v--) out.push({ ...base, architecture: 'arm', variant: `v${v}` });
      break;
    }
    case 'arm64': {
      const variant = p.variant ?? 'v8';
      const [majorS, minorS] = variant.replace(/^v/, '').split('.');
      let major = Number.parseInt(majorS ?? '', 10);
      let minor = minorS === undefined ? 0 : Number.parseInt(minorS, 10);
      if (Number.isInteger(major) && major >= 8 && Number.isInteger(minor)) {
        const arm64 = (maj: number, min: number): Platform => {
          const v = min === 0 ? `v${maj}` : `v${maj}.${min}`;
          return v === 'v8' ? { ...base, architecture: 'arm64' } : { ...base, architecture: 'arm64', variant: v };
        };
        if (major === 9) {
          for (let m = minor - 1; m >= 0; m--) out.push(arm64(9, m));
          // v9.x diverged from v8.5, so it also runs v8.(x+5)
          minor += 5;
          major = 8;
          out.push(arm64(8, minor));
        }
        if (major === 8) for (let m = minor - 1; m >= 0; m--) out.push(arm64(8, m));
      }
      for (const v of [8, 7, 6, 5]) out.push({ ...base, architecture: 'arm', variant: `v${v}` });
      break;
    }
  }
  return out;
}

function samePlatform(want: Platform, have: Platform): boolean {
  const h = normalizePlatform(have);
  if (want.os !== h.os || want.architecture !== h.architecture || (want.variant ?? '') !== (h.variant ?? '')) return false;
  if (want['os.version'] !== undefined && h['os.version'] !== undefined) {
    // Windows builds must match major.minor.build.
    const prefix = (v: string) => v.split('.').slice(0, 3).join('.');
    if (prefix(want['os.version']) !== prefix(h['os.version'])) return false;
  }
  return true;
}

/** A matcher over the platforms `platform` runs: rank 0 is exact; -1 means it does not run. */
export interface PlatformMatcher {
  match(p: Platform): boolean;
  rank(p: Platform): number;
}

export function platformMatcher(platform: Platform): PlatformMatcher {
  const vector = compatiblePlatforms(platform);
  const rank = (p: Platform) => vector.findIndex((w) => samePlatform(w, p));
  return { rank, match: (p) => rank(p) >= 0 };
}

/**
 * Chooses the index entry for `platform` (default: this machine), preferring the exact platform
 * (variant included), then compatible ones in containerd's order; entries earlier in the index
 * win ties. Entries without a platform are taken only when none has a matching one. Throws
 * not-found `no-matching-platform` listing what the index offers.
 */
export function selectManifest(index: ImageIndex, platform: Platform = currentPlatform()): Descriptor {
  const matcher = platformMatcher(platform);
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  let unlabelled: Descriptor | undefined;
  for (const d of index.manifests) {
    if (d.platform === undefined) {
      unlabelled ??= d;
      continue;
    }
    const r = matcher.rank(d.platform);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  const chosen = best ?? unlabelled;
  if (chosen !== undefined) return chosen;
  const available = [...new Set(index.manifests.flatMap((d) => (d.platform === undefined ? [] : [formatPlatform(d.platform)])))];
  const wanted = formatPlatform(platform);
  throw notFound(
    'no-matching-platform',
    `no manifest for platform ${wanted} in the index; available: ${available.length === 0 ? 'none' : available.join(', ')}`,
    { fields: { platform: wanted, available } },
  );
}
