import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setUpHostPath } from './host-path.ts';

let base: string;
let server: Server;
let socketPath: string;
before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'berth-hostpath-'));
  socketPath = path.join(base, 'sock');
  server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(base, { recursive: true, force: true });
});

test('DirectoryOrCreate and FileOrCreate create what is missing (0755, 0644) and accept what fits', async () => {
  const dir = path.join(base, 'new/dir');
  await setUpHostPath({ path: dir, type: 'DirectoryOrCreate' });
  assert.ok((await stat(dir)).isDirectory());
  assert.equal((await stat(dir)).mode & 0o777, 0o755 & ~process.umask());
  await setUpHostPath({ path: dir, type: 'DirectoryOrCreate' });
  const file = path.join(base, 'new/file');
  await setUpHostPath({ path: file, type: 'FileOrCreate' });
  assert.ok((await stat(file)).isFile());
  assert.equal((await stat(file)).mode & 0o777, 0o644 & ~process.umask());
  await writeFile(file, 'kept');
  await setUpHostPath({ path: file, type: 'FileOrCreate' });
  assert.equal((await stat(file)).size, 4);
  await assert.rejects(setUpHostPath({ path: path.join(base, 'no-parent/file'), type: 'FileOrCreate' }), { code: 'ENOENT' });
});

test('every type is checked, with the kubelet messages', async () => {
  const dir = path.join(base, 'd');
  await mkdir(dir);
  const file = path.join(base, 'f');
  await writeFile(file, '');
  await setUpHostPath({ path: dir, type: 'Directory' });
  await setUpHostPath({ path: file, type: 'File' });
  await setUpHostPath({ path: socketPath, type: 'Socket' });
  await setUpHostPath({ path: '/dev/null', type: 'CharDevice' });
  await setUpHostPath({ path: path.join(base, 'missing'), type: '' });
  await setUpHostPath({ path: path.join(base, 'missing') });
  const failures: [Parameters<typeof setUpHostPath>[0], string][] = [
    [{ path: file, type: 'Directory' }, `hostPath type check failed: ${file} is not a directory, it's a File`],
    [{ path: dir, type: 'DirectoryOrCreate' }, ''],
    [{ path: file, type: 'DirectoryOrCreate' }, `hostPath type check failed: ${file} is not a directory, it's a File`],
    [{ path: dir, type: 'FileOrCreate' }, `hostPath type check failed: ${dir} is not a file, it's a Directory`],
    [{ path: dir, type: 'File' }, `hostPath type check failed: ${dir} is not a file, it's a Directory`],
    [{ path: file, type: 'Socket' }, `hostPath type check failed: ${file} is not a socket file, it's a File`],
    [{ path: '/dev/null', type: 'BlockDevice' }, "hostPath type check failed: /dev/null is not a block device, it's a CharDevice"],
    [{ path: dir, type: 'CharDevice' }, `hostPath type check failed: ${dir} is not a character device, it's a Directory`],
    [{ path: path.join(base, 'missing'), type: 'Directory' }, `hostPath ${path.join(base, 'missing')} doesn't exist`],
    [{ path: `${base}/../etc`, type: '' }, `invalid HostPath \`${base}/../etc\`: must not contain '..'`],
    [{ path: dir, type: 'Weird' as 'File' }, 'Weird is an invalid volume type'],
  ];
  for (const [source, message] of failures) {
    if (message === '') await setUpHostPath(source);
    else await assert.rejects(setUpHostPath(source), { message }, JSON.stringify(source));
  }
});
