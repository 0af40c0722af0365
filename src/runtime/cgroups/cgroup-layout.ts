// Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo: cgroup v1 (one mount
// per controller or group of controllers), v2 (one unified mount), or hybrid (v1 controllers plus
// an empty v2 tree, as on this kind of machine: then the v1 controllers hold the resources).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupLayout {
  mode: CgroupMode;
  /** v1 controller (`memory`, `cpuacct`, named hierarchies as `name=systemd`) → its mount point. */
  v1: Map<string, string>;
  /** The cgroup2 mount point, when there is one. */
  unified?: string;
}

/** Mount options of a v1 cgroup mount that are not controllers. */
const NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

/** Undoes mountinfo's octal escapes (`\040` for a space). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountinfo(text: string): CgroupLayout {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fsType = right[0];
    const superOptions = right[2] ?? '';
    if (mountPoint === undefined) continue;
    if (fsType === 'cgroup2') {
      unified ??= unescapeMountField(mountPoint);
    } else if (fsType === 'cgroup') {
      for (const option of superOptions.split(',')) {
        if (option === '' || NON_CONTROLLER_OPTIONS.has(option) || option.startsWith('release_agent=')) continue;
        if (!v1.has(option)) v1.set(option, unescapeMountField(mountPoint));
      }
    }
  }
  const hasV1Controllers = [...v1.keys()].some((c) => !c.startsWith('name='));
  const mode: CgroupMode = hasV1Controllers ? (unified !== undefined ? 'hybrid' : 'v1') : 'v2';
  return { mode, v1, unified };
}

export async function detectCgroupLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  return parseMountinfo(await readFile(mountinfoPath, 'utf8'));
}

/**
 * A cgroupfs path as runc's `linux.cgroupsPath` gives it (`/berth/pod1/ctr1`): absolute, no `..`,
 * not the root. Returns it normalised.
 */
export function checkCgroupPath(cgroupPath: string): string {
  const normal = path.posix.normalize(`/${cgroupPath}`);
  if (normal === '/' || cgroupPath.split('/').includes('..') || cgroupPath.includes('\0')) {
    throw invalidArgument('invalid-cgroup-path', `not a cgroup path below the root: ${JSON.stringify(cgroupPath)}`, {
      fields: { cgroupPath },
    });
  }
  return normal;
}

/** The directory of `cgroupPath` in every mounted hierarchy (each v1 mount once, and v2). */
export function cgroupDirs(layout: CgroupLayout, cgroupPath: string): string[] {
  const rel = checkCgroupPath(cgroupPath);
  const mounts = new Set(layout.v1.values());
  if (layout.unified !== undefined) mounts.add(layout.unified);
  return [...mounts].map((m) => path.join(m, rel));
}

/** The directory holding `controller`'s files for `cgroupPath`: its v1 mount, else the v2 tree. */
export function controllerDir(layout: CgroupLayout, controller: string, cgroupPath: string): string | undefined {
  const rel = checkCgroupPath(cgroupPath);
  if (layout.mode !== 'v2') {
    const mount = layout.v1.get(controller);
    return mount === undefined ? undefined : path.join(mount, rel);
  }
  return layout.unified === undefined ? undefined : path.join(layout.unified, rel);
}
