// The mounts of a container: the system defaults, the pod's files, and the CRI bind mounts with
// their propagation, ordered so that a parent directory is mounted before what is mounted in it.

import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { failedPrecondition, invalidArgument, unimplemented } from '../../errors/errors.ts';
import type { Mount, RootfsPropagation } from '../../oci/runtime-spec.ts';
import { defaultMounts } from './defaults.ts';
import type { MountInput } from './spec-input.ts';

const clean = (p: string): string => posix.normalize(p).replace(/(.)\/$/, '$1');

const depth = (p: string): number => (clean(p).match(/\//g) ?? []).length;

/** Mounts ordered by the depth of their container path, stable (so /a comes before /a/b). */
export function sortMounts<T extends { containerPath: string }>(mounts: readonly T[]): T[] {
  return mounts
    .map((m, i) => ({ m, i, d: depth(m.containerPath) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.m);
}

/** A mount point of the host and its propagation fields, from /proc/self/mountinfo. */
export interface MountInfoEntry {
  mountPoint: string;
  /** The optional fields: "shared:N", "master:N", "propagate_from:N", "unbindable". */
  optional: string[];
}

const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 10) continue;
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    out.push({ mountPoint: unescapeOctal(f[4]!), optional: f.slice(6, sep).filter((o) => o !== '') });
  }
  return out;
}

/** The mount that `path` lives on: the longest mount point containing it, the last one mounted there. */
export function mountOf(entries: readonly MountInfoEntry[], path: string): MountInfoEntry | undefined {
  let best: MountInfoEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const inside = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (inside && (best === undefined || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

/**
 * A BIDIRECTIONAL mount needs its source on a shared mount, HOST_TO_CONTAINER on a shared or
 * slave one; otherwise the propagation the pod asked for cannot happen (failed-precondition).
 */
export function checkSourcePropagation(entries: readonly MountInfoEntry[], source: string, needed: 'shared' | 'shared-or-slave'): void {
  const m = mountOf(entries, source);
  if (m === undefined) throw failedPrecondition('mount-not-found', `no mount point found for ${source}`, { fields: { source } });
  const shared = m.optional.some((o) => o.startsWith('shared:'));
  const slave = m.optional.some((o) => o.startsWith('master:'));
  if (needed === 'shared' && !shared) {
    throw failedPrecondition('mount-not-shared', `path ${source} is mounted on ${m.mountPoint} but it is not a shared mount`, {
      fields: { source, mountPoint: m.mountPoint },
    });
  }
  if (needed === 'shared-or-slave' && !shared && !slave) {
    throw failedPrecondition('mount-not-shared', `path ${source} is mounted on ${m.mountPoint} but it is not a shared or slave mount`, {
      fields: { source, mountPoint: m.mountPoint },
    });
  }
}

/** The host path of a bind mount: created as a directory when missing (as containerd and CRI-O do), symlinks resolved. */
export async function prepareBindSource(hostPath: string): Promise<string> {
  try {
    await stat(hostPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw invalidArgument('invalid-mount-source', `cannot use mount source ${hostPath}: ${(e as Error).message}`, {
        cause: e,
        fields: { hostPath },
      });
    }
    try {
      await mkdir(hostPath, { recursive: true, mode: 0o755 });
    } catch (e2) {
      throw invalidArgument('invalid-mount-source', `cannot create mount source ${hostPath}: ${(e2 as Error).message}`, {
        cause: e2,
        fields: { hostPath },
      });
    }
  }
  return realpath(hostPath);
}

const exists = async (p: string): Promise<boolean> => {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
};

export interface PodFiles {
  hostnamePath?: string;
  hostsPath?: string;
  resolvConfPath?: string;
}

/**
 * The pod's /etc/hostname, /etc/hosts and /etc/resolv.conf as bind mounts, except where the
 * container mounts something itself or the file does not exist; read-only with a read-only root.
 */
export async function podFileMounts(files: PodFiles, criMounts: readonly MountInput[], readonly: boolean): Promise<MountInput[]> {
  const taken = new Set(criMounts.map((m) => clean(m.containerPath)));
  const out: MountInput[] = [];
  const wanted: [string, string | undefined][] = [
    ['/etc/hostname', files.hostnamePath],
    ['/etc/hosts', files.hostsPath],
    ['/etc/resolv.conf', files.resolvConfPath],
  ];
  for (const [containerPath, hostPath] of wanted) {
    if (hostPath === undefined || hostPath === '' || taken.has(containerPath)) continue;
    if (!(await exists(hostPath))) continue;
    out.push({ containerPath, hostPath, readonly, propagation: 'private' });
  }
  return out;
}

export interface ContainerMountsInput {
  /** The CRI mounts. */
  mounts: readonly MountInput[];
  /** Mounts the runtime adds (pod files, image volumes); a CRI mount at the same path wins. */
  extra?: readonly MountInput[];
  privileged?: boolean;
  /** The pod's /dev/shm; absent: a private tmpfs. */
  shmPath?: string;
  /** /proc/self/mountinfo by default: read only when a mount asks for shared or slave propagation. */
  mountInfoPath?: string;
}

export interface ContainerMounts {
  mounts: Mount[];
  rootfsPropagation?: RootfsPropagation;
}

/**
 * The container's mounts, as containerd builds them: the defaults (minus those a supplied mount
 * replaces, and everything under /dev when /dev itself is supplied), then the supplied mounts by
 * depth, each an "rbind" with its propagation (rprivate, rslave, rshared) and "ro" or "rw". A
 * HOST_TO_CONTAINER mount makes the root rslave, a BIDIRECTIONAL one rshared.
 */
export async function containerMounts(input: ContainerMountsInput): Promise<ContainerMounts> {
  const cri = [...input.mounts];
  for (const m of [...cri, ...(input.extra ?? [])]) {
    if (!m.containerPath.startsWith('/')) {
      throw invalidArgument('invalid-mount', `mount destination ${JSON.stringify(m.containerPath)} is not absolute`, {
        fields: { containerPath: m.containerPath },
      });
    }
    if (m.hostPath === '') {
      throw invalidArgument('invalid-mount', `mount at ${m.containerPath} has an empty host path`, {
        fields: { containerPath: m.containerPath },
      });
    }
    if ((m.uidMappings ?? []).length > 0 || (m.gidMappings ?? []).length > 0) {
      throw unimplemented('idmap-mount', `idmapped mounts are not supported (mount of ${m.hostPath})`, {
        fields: { hostPath: m.hostPath },
      });
    }
    if (m.recursiveReadOnly === true) {
      throw unimplemented('recursive-read-only', `recursive read-only mounts are not supported (mount of ${m.hostPath})`, {
        fields: { hostPath: m.hostPath },
      });
    }
  }
  const criPaths = new Set(cri.map((m) => clean(m.containerPath)));
  const supplied = sortMounts([...cri, ...(input.extra ?? []).filter((e) => !criPaths.has(clean(e.containerPath)))]);
  const suppliedPaths = new Set(supplied.map((m) => clean(m.containerPath)));

  const defaults = defaultMounts({
    privileged: input.privileged === true,
    ...(input.shmPath !== undefined ? { shmPath: input.shmPath } : {}),
  });
  const out: Mount[] = defaults.filter((d) => {
    const dst = clean(d.destination);
    if (suppliedPaths.has(dst)) return false;
    if (suppliedPaths.has('/dev') && dst.startsWith('/dev/')) return false;
    return true;
  });

  let mountInfo: MountInfoEntry[] | undefined;
  const loadMountInfo = async (): Promise<MountInfoEntry[]> => {
    mountInfo ??= parseMountInfo(await readFile(input.mountInfoPath ?? '/proc/self/mountinfo', 'utf8'));
    return mountInfo;
  };

  let rootfsPropagation: RootfsPropagation | undefined;
  for (const m of supplied) {
    const source = await prepareBindSource(m.hostPath);
    const options = ['rbind'];
    switch (m.propagation ?? 'private') {
      case 'private':
        options.push('rprivate');
        break;
      case 'bidirectional':
        checkSourcePropagation(await loadMountInfo(), source, 'shared');
        options.push('rshared');
        rootfsPropagation = 'rshared';
        break;
      case 'host-to-container':
        checkSourcePropagation(await loadMountInfo(), source, 'shared-or-slave');
        options.push('rslave');
        if (rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
        break;
    }
    // A read-only root does not make the mounts read-only (containerd's choice, unlike Docker's).
    options.push(m.readonly === true ? 'ro' : 'rw');
    out.push({ destination: m.containerPath, type: 'bind', source, options });
  }
  const result: ContainerMounts = { mounts: out };
  if (rootfsPropagation !== undefined) result.rootfsPropagation = rootfsPropagation;
  return result;
}
