// Removes a cgroup that outlived its container or pod, in every hierarchy, children first.
// A cgroup directory goes away with rmdir once it has no tasks and no child cgroups; its files are
// the kernel's. `runc delete` removes the container's own cgroup; parents (a pod's) stay for us.
import type { Dirent } from 'node:fs';
import { readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../../errors/errors.ts';
import { sleep } from '../../util/sleep.ts';
import { type CgroupLayout, cgroupDirs } from './cgroup-layout.ts';

const BUSY_RETRIES = 10;
const BUSY_DELAY_MS = 20;

async function removeTree(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await removeTree(path.join(dir, entry.name));
  }
  // Right after the last task exits the kernel may still count it for a moment (EBUSY with no
  // task listed): retry then; with tasks listed, fail at once.
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw e;
      const procs = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      if (procs.trim() !== '' || attempt >= BUSY_RETRIES) {
        throw failedPrecondition('cgroup-busy', `cgroup ${dir} still has processes`, {
          cause: e,
          fields: { dir, pids: procs.trim().split('\n').filter(Boolean).map(Number) },
        });
      }
      await sleep(BUSY_DELAY_MS * (attempt + 1));
    }
  }
}

/**
 * Removes the cgroup `cgroupPath` (and any child cgroups) from every hierarchy. Idempotent: a
 * cgroup that is not there is fine. Fails with failed-precondition while processes remain in it.
 * A cleanup step: it takes no AbortSignal and always runs to the end (bounded by the EBUSY retries).
 */
export async function removeCgroup(layout: CgroupLayout, cgroupPath: string): Promise<void> {
  const errors: unknown[] = [];
  for (const dir of cgroupDirs(layout, cgroupPath)) {
    try {
      await removeTree(dir);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** Whether the cgroup exists in any hierarchy. */
export async function cgroupExists(layout: CgroupLayout, cgroupPath: string): Promise<boolean> {
  for (const dir of cgroupDirs(layout, cgroupPath)) {
    try {
      await readdir(dir);
      return true;
    } catch {
      // not in this hierarchy
    }
  }
  return false;
}

/**
 * SIGKILLs every process in the cgroup (any hierarchy) and waits until they are gone: for the
 * remains of a container whose runtime was killed before it recorded any state. Returns the PIDs.
 */
export async function killCgroupProcesses(layout: CgroupLayout, cgroupPath: string, timeoutMs = 2000): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pids = new Set<number>();
    for (const dir of cgroupDirs(layout, cgroupPath)) {
      const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (line.trim() !== '') pids.add(Number(line));
    }
    if (pids.size === 0 || performance.now() > deadline) return [...killed];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // gone already
      }
    }
    await sleep(10);
  }
}
