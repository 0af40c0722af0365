// The pod's fsGroup on its volumes, as the kubelet applies it (SetVolumeOwnership): every file
// and directory gets the group; files gain group read (and write, unless the volume is read-only),
// directories also group search and the setgid bit, so that new files inherit the group.
// Symlinks only change group. hostPath volumes are left alone, as with the kubelet.
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

const READ_WRITE = 0o660;
const READ_ONLY = 0o440;
const SEARCH = 0o110;
const SETGID = 0o2000;

export async function applyFsGroup(dir: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const info = await lstat(dir);
  await lchown(dir, -1, fsGroup);
  if (info.isSymbolicLink()) return;
  let mask = readOnly ? READ_ONLY : READ_WRITE;
  if (info.isDirectory()) mask |= SEARCH | SETGID;
  await chmod(dir, (info.mode & 0o7777) | mask);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(dir)) await applyFsGroup(path.join(dir, entry), fsGroup, readOnly);
}
