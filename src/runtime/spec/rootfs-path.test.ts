import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { readRootfsFile, resolveInRoot } from './rootfs-path.ts';

test('symlinks resolve inside the root, never out of it', async () => {
  await using dir = await makeTempDir();
  const root = join(dir.path, 'rootfs');
  const outside = join(dir.path, 'outside');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'real'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'host secret\n');
  await writeFile(join(root, 'real', 'secret'), 'rootfs file\n');
  await writeFile(join(root, 'etc', 'plain'), 'plain\n');

  // Absolute link: "/" is the rootfs.
  await symlink(join(outside, 'secret'), join(root, 'etc', 'abs'));
  // Relative link climbing far above the root: clamps at the root.
  await symlink('../../../../../../outside/secret', join(root, 'etc', 'rel'));
  // A directory link, then a file through it.
  await symlink('/real', join(root, 'etc', 'dirlink'));

  assert.equal(await readRootfsFile(root, '/etc/plain'), 'plain\n');
  assert.equal(await resolveInRoot(root, '/etc/abs'), join(root, outside, 'secret'));
  assert.equal(await readRootfsFile(root, '/etc/abs'), undefined);
  assert.equal(await resolveInRoot(root, '/etc/rel'), join(root, 'outside', 'secret'));
  assert.equal(await readRootfsFile(root, '/etc/rel'), undefined);
  assert.equal(await readRootfsFile(root, '/etc/dirlink/secret'), 'rootfs file\n');
  assert.equal(await resolveInRoot(root, '/../../etc/plain'), join(root, 'etc', 'plain'));
  assert.equal(await readRootfsFile(root, 'etc/../etc/./plain'), 'plain\n');
  assert.equal(await readRootfsFile(root, '/no/such/file'), undefined);
});

test('symlink loops and non-regular files are errors, FIFOs do not block', async () => {
  await using dir = await makeTempDir();
  const root = dir.path;
  await symlink('/b', join(root, 'a'));
  await symlink('/a', join(root, 'b'));
  await assert.rejects(readRootfsFile(root, '/a'), (e) => isBerthError(e, 'invalid-argument') && /symbolic links/.test(e.message));
  await mkdir(join(root, 'dir'));
  await assert.rejects(readRootfsFile(root, '/dir'), (e) => isBerthError(e, 'invalid-argument') && /not a regular file/.test(e.message));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  await assert.rejects(readRootfsFile(root, '/fifo'), (e) => isBerthError(e, 'invalid-argument'));
  await writeFile(join(root, 'big'), 'x'.repeat(100));
  await assert.rejects(readRootfsFile(root, '/big', 10), (e) => isBerthError(e, 'invalid-argument') && /larger/.test(e.message));
});
