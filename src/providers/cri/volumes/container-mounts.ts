// A container's volumeMounts as CRI mounts, as the kubelet makes them (makeMounts): the volume's
// host path (subPath or the expanded subPathExpr below it, created when missing and never outside
// the volume), read-only when asked and always for configMap, secret, downwardAPI and projected volumes, and
// the mount propagation (Bidirectional for privileged containers only).
//
// A subPath is pinned as the kubelet does since CVE-2021-25741: the resolved path is opened
// (O_PATH, not following a final symlink), the descriptor's real path checked to be inside the
// volume, and that very inode bind-mounted by descriptor onto `<pod>/volume-subpaths/<volume>/
// <container>/<index>`, which the runtime gets. A container that swaps a directory of the volume
// for a symlink after the check has no effect: the mount is of what was opened. The pod's
// teardown unmounts everything under its directory before removing it.
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { chmod, lstat, mkdir, open, readlink, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { NamedValue } from '../../../agent/container-env.ts';
import type { Container, Pod, VolumeMount } from '../../../agent/k8s-types.ts';
import { podUid } from '../../../agent/k8s-types.ts';
import { expandVariables } from '../../../agent/var-expansion.ts';
import { MountPropagation, type MountSchema } from '../../../cri-api/gen/runtime/v1/api_pb.js';
import { internal, invalidArgument, unimplemented } from '../../../errors/errors.ts';
import { isMountPoint, unmount } from '../../../snapshot/mount.ts';
import { podDir, volumeHostPath, volumePlugin } from './volume-paths.ts';

export type CriMount = MessageInitShape<typeof MountSchema>;

const READ_ONLY_PLUGINS = new Set(['configmap', 'secret', 'downward-api', 'projected']);

/** subPathExpr with `$(VAR)` expanded from the container's env; a missing or empty variable is an error. */
export function expandSubPathExpr(expr: string, env: readonly NamedValue[]): string {
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const missing = new Set<string>();
  const expanded = expandVariables(expr, (name) => {
    const value = vars.get(name);
    if (value === undefined || value === '') missing.add(name);
    return value ?? '';
  });
  if (missing.size > 0) throw invalidArgument('subpath-value-missing', `missing value for ${[...missing].sort().join(', ')}`);
  return expanded;
}

/** Why a subPath may not be used (absolute, or with a `..` element), or undefined. */
export function subPathProblem(subPath: string): string | undefined {
  if (path.isAbsolute(subPath)) return `error SubPath \`${subPath}\` must not be an absolute path`;
  if (subPath.split('/').includes('..')) return `unable to provision SubPath \`${subPath}\`: must not contain '..'`;
  return undefined;
}

const within = (base: string, p: string) => p === base || p.startsWith(base === '/' ? '/' : `${base}/`);

/**
 * The real path of `subPath` below `volumePath`, its missing directories created with the
 * volume's mode. Throws when a component (a symlink) leads outside the volume.
 */
export async function resolveSubPath(volumePath: string, subPath: string): Promise<string> {
  const base = await realpath(volumePath);
  const mode = (await stat(base)).mode & 0o777;
  let current = base;
  for (const part of subPath.split('/').filter((p) => p !== '' && p !== '.')) {
    const next = path.join(current, part);
    let isLink = false;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(next, { mode });
      await chmod(next, mode);
    }
    current = isLink ? await realpath(next) : next;
    if (!within(base, current))
      throw invalidArgument('subpath-escape', `subpath ${JSON.stringify(subPath)} leads outside of the volume ${volumePath}`);
  }
  const resolved = await realpath(current);
  if (!within(base, resolved))
    throw invalidArgument('subpath-escape', `subpath ${JSON.stringify(subPath)} leads outside of the volume ${volumePath}`);
  return resolved;
}

/** Linux's O_PATH (Node has no constant for it): a descriptor that names an inode, opens nothing. */
const O_PATH = 0o10000000;

/** Where the kubelet pins a container's subPath mounts (`volume-subpaths/<volume>/<container>/<index>`). */
export function subPathTarget(rootDir: string, uid: string, volume: string, container: string, index: number): string {
  return path.join(podDir(rootDir, uid), 'volume-subpaths', volume, container, String(index));
}

/**
 * Bind-mounts the inode at `resolved` (inside `volumePath`) onto `target` by descriptor and
 * returns `target`. Refuses when what is opened is a symlink or lies outside the volume.
 */
export async function pinSubPath(volumePath: string, resolved: string, target: string): Promise<string> {
  const base = await realpath(volumePath);
  const fh = await open(resolved, O_PATH | fsConstants.O_NOFOLLOW);
  try {
    const opened = await readlink(`/proc/self/fd/${fh.fd}`);
    const st = await fh.stat(); // of the inode itself: a final symlink is not followed
    if (!within(base, opened) || !(st.isDirectory() || st.isFile())) {
      throw invalidArgument('subpath-escape', `subpath ${resolved} leads outside of the volume ${volumePath}`);
    }
    await mkdir(path.dirname(target), { recursive: true, mode: 0o750 });
    if (await isMountPoint(target)) await unmount(target); // a restarted container's earlier pin
    if (st.isDirectory()) await mkdir(target, { recursive: true, mode: 0o750 });
    else await writeFile(target, '', { flag: 'a', mode: 0o640 });
    // --no-canonicalize: mount(8) would otherwise resolve the descriptor link to a path again.
    await promisify(execFile)('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${fh.fd}`, target]);
  } finally {
    await fh.close();
  }
  return target;
}

function propagation(mount: VolumeMount, container: Container): MountPropagation {
  switch (mount.mountPropagation ?? 'None') {
    case 'None':
      return MountPropagation.PROPAGATION_PRIVATE;
    case 'HostToContainer':
      return MountPropagation.PROPAGATION_HOST_TO_CONTAINER;
    case 'Bidirectional':
      if (container.securityContext?.privileged !== true) {
        throw invalidArgument(
          'mount-propagation-invalid',
          `volumeMount "${mount.name}": Bidirectional mount propagation is available only to privileged containers`,
        );
      }
      return MountPropagation.PROPAGATION_BIDIRECTIONAL;
    default:
      throw invalidArgument('mount-propagation-invalid', `invalid MountPropagation mode: ${JSON.stringify(mount.mountPropagation)}`);
  }
}

/** The container's CRI mounts; throws with the kubelet's message (a CreateContainerConfigError) when one cannot be made. */
export async function containerMounts(pod: Pod, container: Container, env: readonly NamedValue[], rootDir: string): Promise<CriMount[]> {
  const mounts: CriMount[] = [];
  for (const [index, mount] of (container.volumeMounts ?? []).entries()) {
    const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
    const volumePath = volume === undefined ? undefined : volumeHostPath(rootDir, podUid(pod), volume);
    if (volume === undefined || volumePath === undefined) {
      throw invalidArgument(
        'volume-mount-invalid',
        `cannot find volume ${JSON.stringify(mount.name)} to mount into container ${JSON.stringify(container.name)}`,
      );
    }
    if (mount.recursiveReadOnly === 'Enabled') {
      throw unimplemented(
        'recursive-read-only',
        `failed to resolve recursive read-only mode: volume ${JSON.stringify(mount.name)} requested recursive read-only mode, but it is not supported by berth node`,
      );
    }
    const subPath = mount.subPathExpr ? expandSubPathExpr(mount.subPathExpr, env) : (mount.subPath ?? '');
    let hostPath = volumePath;
    if (subPath !== '') {
      const problem = subPathProblem(subPath);
      if (problem !== undefined) throw invalidArgument('subpath-escape', problem);
      try {
        const resolved = await resolveSubPath(volumePath, subPath);
        hostPath = await pinSubPath(volumePath, resolved, subPathTarget(rootDir, podUid(pod), mount.name, container.name, index));
      } catch {
        throw internal(
          'volume-prepare-failed',
          `failed to prepare subPath for volumeMount ${JSON.stringify(mount.name)} of container ${JSON.stringify(container.name)}`,
        );
      }
    }
    mounts.push({
      containerPath: mount.mountPath,
      hostPath,
      readonly: mount.readOnly === true || READ_ONLY_PLUGINS.has(volumePlugin(volume) ?? ''),
      propagation: propagation(mount, container),
    });
  }
  return mounts;
}
