// Disk use of a directory tree as `du` counts it: allocated blocks × 512, each inode once (hard
// links), no link followed; entries removed during the walk are skipped.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { toBerthError } from '../errors/errors.ts';
import { throwIfAborted } from './abortable.ts';
import { errnoCode } from './errno.ts';

export interface DirectoryUsage {
  bytes: number;
  inodes: number;
  /** The walk stopped at `maxInodes`: the figures are a lower bound. */
  truncated: boolean;
}

export async function directoryUsage(dir: string, options: { maxInodes?: number; signal?: AbortSignal } = {}): Promise<DirectoryUsage> {
  const maxInodes = options.maxInodes ?? Number.POSITIVE_INFINITY;
  const seen = new Set<string>();
  let bytes = 0;
  let truncated = false;
  const pending = [dir];
  while (pending.length > 0) {
    throwIfAborted(options.signal);
    if (seen.size >= maxInodes) {
      truncated = true;
      break;
    }
    const p = pending.pop()!;
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(p);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue; // removed while we walk
      throw toBerthError(e);
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      const names = await readdir(p).catch((e: unknown) => {
        if (errnoCode(e) === 'ENOENT') return [] as string[];
        throw toBerthError(e);
      });
      for (const name of names) pending.push(path.join(p, name));
    }
  }
  return { bytes, inodes: seen.size, truncated };
}
