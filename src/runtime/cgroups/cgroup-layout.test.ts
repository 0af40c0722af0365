import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { cgroupDirs, checkCgroupPath, controllerDir, parseMountinfo } from './cgroup-layout.ts';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;
const V2 = `22 1 0:21 / /proc rw - proc proc rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V1 = `35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
`;

test('hybrid: v1 controllers and a v2 mount', () => {
  const l = parseMountinfo(HYBRID);
  assert.equal(l.mode, 'hybrid');
  assert.equal(l.unified, '/sys/fs/cgroup/unified');
  assert.equal(l.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(l.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(l.v1.get('name=systemd'), '/sys/fs/cgroup/systemd');
  assert.equal(l.v1.has('clone_children'), false);
  assert.equal(l.v1.has('xattr'), false);
  assert.equal(controllerDir(l, 'memory', '/berth/c1'), '/sys/fs/cgroup/memory/berth/c1');
  assert.deepEqual(cgroupDirs(l, 'berth/c1').sort(), [
    '/sys/fs/cgroup/cpu,cpuacct/berth/c1',
    '/sys/fs/cgroup/cpuset/berth/c1',
    '/sys/fs/cgroup/memory/berth/c1',
    '/sys/fs/cgroup/pids/berth/c1',
    '/sys/fs/cgroup/systemd/berth/c1',
    '/sys/fs/cgroup/unified/berth/c1',
  ]);
});

test('v2 only, and v1 only', () => {
  const v2 = parseMountinfo(V2);
  assert.equal(v2.mode, 'v2');
  assert.equal(controllerDir(v2, 'memory', '/berth/c1'), '/sys/fs/cgroup/berth/c1');
  assert.deepEqual(cgroupDirs(v2, '/berth/c1'), ['/sys/fs/cgroup/berth/c1']);
  const v1 = parseMountinfo(V1);
  assert.equal(v1.mode, 'v1');
  assert.equal(v1.unified, undefined);
  assert.equal(controllerDir(v1, 'pids', '/x'), undefined);
});

test('mount points with escaped spaces', () => {
  const l = parseMountinfo('41 31 0:38 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n');
  assert.equal(l.unified, '/mnt/my cgroup');
});

test('cgroup paths must stay below the root', () => {
  assert.equal(checkCgroupPath('a/b'), '/a/b');
  for (const bad of ['/', '', '/a/../..', '../x']) {
    assert.throws(
      () => checkCgroupPath(bad),
      (e: unknown) => isBerthError(e, 'invalid-argument'),
      bad,
    );
  }
});
