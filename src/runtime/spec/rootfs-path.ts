// Reading files of a container's root filesystem from the host without being led out of it: every
// symlink is resolved as the container would see it, with the rootfs as "/", so an image whose
// /etc/passwd points at /etc/shadow (or "../../../../etc/passwd") reads the rootfs's own file.

import { constants } from 'node:fs';
import { lstat, open, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';

const MAX_SYMLINKS = 40;

const isNotFound = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/**
 * The host path of `path` as seen inside `root`: symlinks are followed with `root` as the root
 * directory and ".." never climbs above it. Components that do not exist are kept as they are.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const base = await realpath(root);
  const pending = path.split('/').filter((c) => c !== '');
  const current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      current.pop();
      continue;
    }
    const candidate = join(base, ...current, part);
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // Missing: the rest cannot contain links; keep it lexically inside the root.
      current.push(part);
      for (const rest of pending) {
        if (rest === '.' || rest === '') continue;
        if (rest === '..') current.pop();
        else current.push(rest);
      }
      break;
    }
    if (!isLink) {
      current.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw invalidArgument('symlink-loop', `too many levels of symbolic links resolving ${path} in the container's root filesystem`);
    }
    const target = await readlink(candidate);
    if (target.startsWith('/')) current.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== ''));
  }
  return join(base, ...current);
}

/**
 * The text of a regular file of the rootfs, or undefined when it does not exist. The last component
 * is opened without following links (it was resolved already) and without blocking on a FIFO; a
 * file that is not regular or is larger than `maxBytes` is an error.
 */
export async function readRootfsFile(root: string, path: string, maxBytes = 16 << 20): Promise<string | undefined> {
  const hostPath = await resolveInRoot(root, path);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw invalidArgument('not-a-file', `${path} in the container's root filesystem is not a regular file`);
    if (st.size > maxBytes)
      throw invalidArgument('file-too-large', `${path} in the container's root filesystem is larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes)
      throw invalidArgument('file-too-large', `${path} in the container's root filesystem is larger than ${maxBytes} bytes`);
    return buf.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}
