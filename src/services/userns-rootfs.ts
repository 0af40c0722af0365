// The rootfs of a container in a user namespace, made usable from inside it without idmapped
// mounts (runc 1.1 has none): the container's root (a host ID from the mappings) must reach the
// bundle, so every folder above it must be searchable by others; it owns the top of its writable
// layer; and the mount points runc would create in image folders it cannot write are made first.
// Files of the image layers keep their host owners (they show as the overflow ID, 65534, inside).
import { chmod, chown, lstat, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';
import type { IdMapping, Mount } from '../oci/runtime-spec.ts';
import { resolveInRoot } from '../runtime/spec/rootfs-path.ts';
import { hostIdOf } from '../runtime/spec/user-namespace.ts';

/** Each mount's destination in the rootfs, resolved inside it: a file for a bind mount of a file, else a folder. */
async function createMountPoints(rootfs: string, mounts: Mount[]): Promise<void> {
  for (const m of mounts) {
    const target = await resolveInRoot(rootfs, m.destination);
    if (
      await lstat(target).then(
        () => true,
        () => false,
      )
    )
      continue;
    const isFile = m.type === 'bind' && m.source !== undefined && (await stat(m.source).catch(() => undefined))?.isFile() === true;
    if (isFile) {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, '', { flag: 'wx' });
    } else {
      await mkdir(target, { recursive: true });
    }
  }
}

export async function prepareUserNamespaceRootfs(
  bundle: string,
  rootfs: string,
  mappings: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  mounts: Mount[],
): Promise<void> {
  for (let dir = path.dirname(bundle); ; dir = path.dirname(dir)) {
    const st = await stat(dir);
    if ((st.mode & 0o001) === 0) {
      throw failedPrecondition(
        'userns-state-dir',
        `a container in a user namespace cannot reach its bundle: ${dir} is not searchable by others (chmod o+x ${dir})`,
        { fields: { dir } },
      );
    }
    if (dir === path.dirname(dir)) break;
  }
  await chmod(bundle, 0o711);
  await createMountPoints(rootfs, mounts);
  const uid = hostIdOf(mappings.uidMappings, 0);
  const gid = hostIdOf(mappings.gidMappings, 0);
  // Without a mapping for root inside, nobody inside owns the rootfs; nothing to hand over.
  if (uid !== undefined && gid !== undefined) await chown(rootfs, uid, gid);
}
