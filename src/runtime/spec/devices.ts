// Device nodes of the host made available in a container: the node to create and the cgroup rule
// that lets the container open it.

import type { BigIntStats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';
import type { LinuxDevice, LinuxDeviceCgroup } from '../../oci/runtime-spec.ts';
import type { DeviceInput } from './spec-input.ts';

/** The major and minor numbers of a device number (glibc's encoding of dev_t). */
export function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** The device described by a stat result at `path`, or undefined when it is not a character or block device. */
export function deviceFromStat(path: string, st: BigIntStats): LinuxDevice | undefined {
  let type: LinuxDevice['type'];
  if (st.isCharacterDevice()) type = 'c';
  else if (st.isBlockDevice()) type = 'b';
  else return undefined;
  const { major, minor } = majorMinor(st.rdev);
  return { path, type, major, minor, fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

// Directories of /dev that hold no device nodes of the host's own (or hold other mounts).
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

async function walkDevices(dir: string, containerDir: string | undefined, out: LinuxDevice[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const hostPath = join(dir, entry.name);
    const containerPath = containerDir === undefined ? hostPath : join(containerDir, entry.name);
    if (entry.isDirectory()) {
      if (SKIPPED_DIRS.has(entry.name)) continue;
      await walkDevices(hostPath, containerDir === undefined ? undefined : containerPath, out);
      continue;
    }
    if (entry.name === 'console' || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue;
    let st: BigIntStats;
    try {
      st = await lstat(hostPath, { bigint: true });
    } catch (e) {
      if (code(e) === 'ENOENT') continue;
      throw e;
    }
    const dev = deviceFromStat(containerPath, st);
    if (dev !== undefined) out.push(dev);
  }
}

/** Every device node under the host's /dev (what a privileged container gets), at the same paths. */
export async function hostDevices(dir = '/dev'): Promise<LinuxDevice[]> {
  const out: LinuxDevice[] = [];
  await walkDevices(dir, undefined, out);
  return out;
}

/**
 * The devices of one CRI Device: the host path (symlinks resolved) must be a device node, or a
 * directory whose device nodes are all taken, under the container path.
 */
export async function devicesFromPath(hostPath: string, containerPath: string): Promise<LinuxDevice[]> {
  let resolved: string;
  let st: BigIntStats;
  try {
    resolved = await realpath(hostPath);
    st = await stat(resolved, { bigint: true });
  } catch (e) {
    throw invalidArgument('device-not-found', `device ${hostPath}: ${(e as Error).message}`, { cause: e, fields: { hostPath } });
  }
  if (st.isDirectory()) {
    const out: LinuxDevice[] = [];
    await walkDevices(resolved, containerPath || resolved, out);
    return out;
  }
  const dev = deviceFromStat(containerPath || resolved, st);
  if (dev === undefined) {
    throw invalidArgument('not-a-device', `${hostPath} is not a device node (host path of ${containerPath || basename(hostPath)})`, {
      fields: { hostPath, containerPath },
    });
  }
  return [dev];
}

/** CRI device permissions: a combination of r, w and m; empty means all three. */
export function devicePermissions(permissions: string | undefined): string {
  const p = permissions ?? '';
  if (p === '') return 'rwm';
  if (!/^[rwm]{1,3}$/.test(p) || new Set(p).size !== p.length) {
    throw invalidArgument('invalid-device-permissions', `device permissions ${JSON.stringify(p)}: want a combination of r, w and m`, {
      fields: { permissions: p },
    });
  }
  return p;
}

export interface ContainerDevices {
  devices: LinuxDevice[];
  rules: LinuxDeviceCgroup[];
}

/**
 * The device nodes and cgroup rules of a container's CRI devices. With `owner`, the nodes are
 * created owned by that uid/gid instead of the host node's owner.
 */
export async function containerDevices(
  requested: readonly DeviceInput[],
  owner?: { uid?: number; gid?: number },
): Promise<ContainerDevices> {
  const out: ContainerDevices = { devices: [], rules: [] };
  for (const d of requested) {
    const access = devicePermissions(d.permissions);
    for (const dev of await devicesFromPath(d.hostPath, d.containerPath)) {
      if (owner?.uid !== undefined && owner.uid !== 0) dev.uid = owner.uid;
      if (owner?.gid !== undefined && owner.gid !== 0) dev.gid = owner.gid;
      out.devices.push(dev);
      out.rules.push({ allow: true, type: dev.type === 'b' ? 'b' : 'c', major: dev.major, minor: dev.minor, access });
    }
  }
  return out;
}
