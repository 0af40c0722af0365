// emptyDir volumes, and the directories configMap, secret and downwardAPI volumes write into (the
// kubelet wraps those in an emptyDir: secrets and downwardAPI on memory, configMaps on disk). A
// memory-backed one is a tmpfs sized as the kubelet sizes it: the volume's sizeLimit, else the
// pod's memory limit, else the node's allocatable memory — whichever is smallest.
import { chmod, mkdir, stat } from 'node:fs/promises';
import type { Pod } from '../../../agent/k8s-types.ts';
import { wholeValue } from '../../../agent/quantity.ts';
import { isMountPoint, mountAll } from '../../../snapshot/mount.ts';

/** The pod's memory limit when every container sets one (the pod cgroup's limit), else undefined. */
export function podMemoryLimit(pod: Pod): number | undefined {
  const limitOf = (c: { resources?: { limits?: Record<string, string | number> } }) => {
    const limit = c.resources?.limits?.memory;
    return limit === undefined ? undefined : wholeValue(limit);
  };
  const app = pod.spec.containers.map(limitOf);
  const init = (pod.spec.initContainers ?? []).map(limitOf);
  if ([...app, ...init].some((l) => l === undefined || l === 0)) return undefined;
  const sum = (app as number[]).reduce((a, b) => a + b, 0);
  return Math.max(sum, ...(init as number[]));
}

/** The size of a memory-backed emptyDir in bytes. */
export function memoryVolumeSize(pod: Pod, nodeMemoryBytes: number, sizeLimit?: string | number): number {
  let size = nodeMemoryBytes;
  const podLimit = podMemoryLimit(pod);
  if (podLimit !== undefined && podLimit > 0 && podLimit <= size) size = podLimit;
  if (sizeLimit !== undefined) {
    const volumeLimit = wholeValue(sizeLimit);
    if (volumeLimit > 0 && volumeLimit <= size) size = volumeLimit;
  }
  return size;
}

/**
 * Makes the directory (a tmpfs of `tmpfsBytes` when given) with mode 0777, as the kubelet leaves
 * emptyDirs. Idempotent; answers whether it was made now (not there, or not mounted, before).
 */
export async function setUpEmptyDir(dir: string, tmpfsBytes?: number, signal?: AbortSignal): Promise<boolean> {
  let fresh = (await mkdir(dir, { recursive: true, mode: 0o750 })) !== undefined;
  if (tmpfsBytes !== undefined && !(await isMountPoint(dir))) {
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: [`size=${tmpfsBytes}`] }], dir, signal);
    fresh = true;
  }
  if (((await stat(dir)).mode & 0o777) !== 0o777) await chmod(dir, 0o777);
  return fresh;
}
