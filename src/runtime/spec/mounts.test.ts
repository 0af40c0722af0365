import assert from 'node:assert/strict';
import { mkdir, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { checkSourcePropagation, containerMounts, mountOf, parseMountInfo, podFileMounts, sortMounts } from './mounts.ts';

test('mounts sort parents first, stable among equals', () => {
  const sorted = sortMounts([
    { containerPath: '/a/b/c' },
    { containerPath: '/z' },
    { containerPath: '/a/b' },
    { containerPath: '/a' },
    { containerPath: '/b/' },
    { containerPath: '/a/b/c/d' },
  ]);
  assert.deepEqual(
    sorted.map((m) => m.containerPath),
    ['/z', '/a', '/b/', '/a/b', '/a/b/c', '/a/b/c/d'],
  );
});

test('defaults first, supplied mounts override defaults, /dev replaces everything under it', async () => {
  await using dir = await makeTempDir();
  const src = await realpath(dir.path);
  const { mounts } = await containerMounts({ mounts: [] });
  assert.deepEqual(
    mounts.map((m) => `${m.destination} ${m.type}`),
    ['/proc proc', '/dev tmpfs', '/dev/pts devpts', '/dev/shm tmpfs', '/dev/mqueue mqueue', '/sys sysfs', '/sys/fs/cgroup cgroup'],
  );
  assert.ok(mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.ok(mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('ro'));
  assert.ok(mounts.find((m) => m.destination === '/dev/shm')!.options!.includes('size=65536k'));

  const priv = await containerMounts({ mounts: [], privileged: true });
  assert.ok(priv.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  assert.ok(priv.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('rw'));

  const shm = await containerMounts({ mounts: [], shmPath: src });
  assert.deepEqual(
    shm.mounts.find((m) => m.destination === '/dev/shm'),
    {
      destination: '/dev/shm',
      type: 'bind',
      source: src,
      options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'],
    },
  );

  const over = await containerMounts({ mounts: [{ containerPath: '/dev/shm/', hostPath: src }] });
  const shms = over.mounts.filter((m) => m.destination.startsWith('/dev/shm'));
  assert.deepEqual(shms, [{ destination: '/dev/shm/', type: 'bind', source: src, options: ['rbind', 'rprivate', 'rw'] }]);

  const dev = await containerMounts({ mounts: [{ containerPath: '/dev', hostPath: src }] });
  assert.deepEqual(
    dev.mounts.map((m) => m.destination),
    ['/proc', '/sys', '/sys/fs/cgroup', '/dev'],
  );
});

test('CRI mounts: options, ordering, CRI wins over extra, missing sources are created', async () => {
  await using dir = await makeTempDir();
  const base = await realpath(dir.path);
  await mkdir(join(base, 'data'));
  await mkdir(join(base, 'real'));
  await symlink(join(base, 'real'), join(base, 'link'));
  const { mounts, rootfsPropagation } = await containerMounts({
    mounts: [
      { containerPath: '/data/sub', hostPath: join(base, 'link'), readonly: true },
      { containerPath: '/data', hostPath: join(base, 'data') },
      { containerPath: '/new/dir', hostPath: join(base, 'missing', 'deep') },
    ],
    extra: [
      { containerPath: '/data', hostPath: join(base, 'ignored') },
      { containerPath: '/vol', hostPath: join(base, 'vol') },
    ],
  });
  assert.equal(rootfsPropagation, undefined);
  const binds = mounts.filter((m) => m.type === 'bind');
  assert.deepEqual(binds, [
    { destination: '/data', type: 'bind', source: join(base, 'data'), options: ['rbind', 'rprivate', 'rw'] },
    { destination: '/vol', type: 'bind', source: join(base, 'vol'), options: ['rbind', 'rprivate', 'rw'] },
    { destination: '/data/sub', type: 'bind', source: join(base, 'real'), options: ['rbind', 'rprivate', 'ro'] },
    { destination: '/new/dir', type: 'bind', source: join(base, 'missing', 'deep'), options: ['rbind', 'rprivate', 'rw'] },
  ]);
  assert.ok((await stat(join(base, 'missing', 'deep'))).isDirectory());
  assert.ok((await stat(join(base, 'vol'))).isDirectory());
  await assert.rejects(stat(join(base, 'ignored')));
});

test('bad mounts are refused', async () => {
  await using dir = await makeTempDir();
  await assert.rejects(containerMounts({ mounts: [{ containerPath: 'rel', hostPath: dir.path }] }), (e) =>
    isBerthError(e, 'invalid-argument'),
  );
  await assert.rejects(containerMounts({ mounts: [{ containerPath: '/x', hostPath: '' }] }), (e) => isBerthError(e, 'invalid-argument'));
  await assert.rejects(
    containerMounts({ mounts: [{ containerPath: '/x', hostPath: dir.path, uidMappings: [{ hostId: 1, containerId: 0, length: 1 }] }] }),
    (e) => isBerthError(e, 'unimplemented'),
  );
  await assert.rejects(
    containerMounts({ mounts: [{ containerPath: '/x', hostPath: dir.path, readonly: true, recursiveReadOnly: true }] }),
    (e) => isBerthError(e, 'unimplemented'),
  );
});

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '30 22 0:25 / /mnt/shared rw shared:5 - tmpfs tmpfs rw',
  '31 22 0:26 / /mnt/slave rw master:6 - tmpfs tmpfs rw',
  '32 22 0:27 / /mnt/private rw - tmpfs tmpfs rw',
  '33 22 0:28 / /mnt/with\\040space rw shared:9 - tmpfs tmpfs rw',
  '',
].join('\n');

test('propagation needs a shared (or slave) source mount', async () => {
  const entries = parseMountInfo(MOUNTINFO);
  assert.equal(entries.length, 5);
  assert.equal(mountOf(entries, '/mnt/shared/x/y')!.mountPoint, '/mnt/shared');
  assert.equal(mountOf(entries, '/mnt/sharedother')!.mountPoint, '/');
  assert.equal(mountOf(entries, '/mnt/with space/a')!.mountPoint, '/mnt/with space');
  checkSourcePropagation(entries, '/mnt/shared/a', 'shared');
  checkSourcePropagation(entries, '/mnt/slave/a', 'shared-or-slave');
  checkSourcePropagation(entries, '/mnt/shared/a', 'shared-or-slave');
  assert.throws(
    () => checkSourcePropagation(entries, '/mnt/slave/a', 'shared'),
    (e) => isBerthError(e, 'failed-precondition'),
  );
  assert.throws(
    () => checkSourcePropagation(entries, '/mnt/private/a', 'shared-or-slave'),
    (e) => isBerthError(e, 'failed-precondition'),
  );

  await using dir = await makeTempDir();
  const base = await realpath(dir.path);
  const info = join(base, 'mountinfo');
  await writeFile(info, `1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 0:5 / ${base}/private rw - tmpfs t rw\n`);
  const bi = await containerMounts({
    mounts: [
      { containerPath: '/h2c', hostPath: join(base, 'a'), propagation: 'host-to-container' },
      { containerPath: '/bi', hostPath: join(base, 'b'), propagation: 'bidirectional' },
    ],
    mountInfoPath: info,
  });
  assert.equal(bi.rootfsPropagation, 'rshared');
  assert.deepEqual(
    bi.mounts.filter((m) => m.type === 'bind').map((m) => m.options),
    [
      ['rbind', 'rslave', 'rw'],
      ['rbind', 'rshared', 'rw'],
    ],
  );
  const h2c = await containerMounts({
    mounts: [{ containerPath: '/h2c', hostPath: join(base, 'a'), propagation: 'host-to-container' }],
    mountInfoPath: info,
  });
  assert.equal(h2c.rootfsPropagation, 'rslave');
  await assert.rejects(
    containerMounts({
      mounts: [{ containerPath: '/p', hostPath: join(base, 'private'), propagation: 'bidirectional' }],
      mountInfoPath: info,
    }),
    (e) => isBerthError(e, 'failed-precondition') && /not a shared mount/.test(e.message),
  );
});

test('the pod files mount unless the container mounts its own or they are missing', async () => {
  await using dir = await makeTempDir();
  const hosts = join(dir.path, 'hosts');
  const resolv = join(dir.path, 'resolv.conf');
  await writeFile(hosts, '127.0.0.1 localhost\n');
  await writeFile(resolv, 'nameserver 10.0.0.10\n');
  const files = { hostsPath: hosts, resolvConfPath: resolv, hostnamePath: join(dir.path, 'missing-hostname') };
  assert.deepEqual(await podFileMounts(files, [], true), [
    { containerPath: '/etc/hosts', hostPath: hosts, readonly: true, propagation: 'private' },
    { containerPath: '/etc/resolv.conf', hostPath: resolv, readonly: true, propagation: 'private' },
  ]);
  const own = await podFileMounts(files, [{ containerPath: '/etc/resolv.conf', hostPath: '/x' }], false);
  assert.deepEqual(
    own.map((m) => [m.containerPath, m.readonly]),
    [['/etc/hosts', false]],
  );
});
