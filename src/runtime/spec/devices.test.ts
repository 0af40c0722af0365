import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { containerDevices, devicePermissions, devicesFromPath, hostDevices, majorMinor } from './devices.ts';

test('device numbers decode like glibc', () => {
  assert.deepEqual(majorMinor(0x0103n), { major: 1, minor: 3 });
  assert.deepEqual(majorMinor(0x8800n), { major: 136, minor: 0 });
  // A large minor (> 255) and major (> 4095).
  const dev = (259n << 8n) | 0x12n | (0x345n << 20n) | (0x1000n << 32n);
  assert.deepEqual(majorMinor(dev), { major: 0x1000 | 259, minor: 0x34512 });
});

test('a host device node becomes a spec device and a cgroup rule', async () => {
  const { devices, rules } = await containerDevices([{ hostPath: '/dev/null', containerPath: '/dev/mynull', permissions: 'rw' }]);
  assert.equal(devices.length, 1);
  assert.deepEqual(
    { ...devices[0], fileMode: undefined, uid: undefined, gid: undefined },
    {
      path: '/dev/mynull',
      type: 'c',
      major: 1,
      minor: 3,
      fileMode: undefined,
      uid: undefined,
      gid: undefined,
    },
  );
  assert.equal(devices[0]!.fileMode, 0o666);
  assert.deepEqual(rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
});

test('symlinks are resolved, directories are walked, other files refused', async () => {
  await using dir = await makeTempDir();
  await symlink('/dev/zero', join(dir.path, 'zero-link'));
  const [zero] = await devicesFromPath(join(dir.path, 'zero-link'), '/dev/z');
  assert.deepEqual([zero!.path, zero!.major, zero!.minor], ['/dev/z', 1, 5]);
  // A directory of device nodes (links count only when they are nodes themselves).
  await mkdir(join(dir.path, 'nodes'));
  await writeFile(join(dir.path, 'nodes', 'regular'), 'x');
  const none = await devicesFromPath(join(dir.path, 'nodes'), '/dev/nodes');
  assert.deepEqual(none, []);
  await assert.rejects(
    devicesFromPath(join(dir.path, 'nodes', 'regular'), '/dev/r'),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'not-a-device',
  );
  await assert.rejects(
    devicesFromPath(join(dir.path, 'missing'), '/dev/m'),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'device-not-found',
  );
});

test('device permissions', () => {
  assert.equal(devicePermissions(''), 'rwm');
  assert.equal(devicePermissions(undefined), 'rwm');
  assert.equal(devicePermissions('mr'), 'mr');
  assert.throws(
    () => devicePermissions('rx'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => devicePermissions('rr'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('the host devices include /dev/null and skip /dev/pts and the console', async () => {
  const devs = await hostDevices();
  assert.ok(devs.some((d) => d.path === '/dev/null' && d.type === 'c' && d.major === 1 && d.minor === 3));
  assert.ok(!devs.some((d) => d.path.startsWith('/dev/pts/')));
  assert.ok(!devs.some((d) => d.path === '/dev/console'));
});
