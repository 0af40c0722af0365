import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod } from '../../../agent/k8s-types.ts';
import { MountPropagation } from '../../../cri-api/gen/runtime/v1/api_pb.js';
import { listMountPoints, unmount } from '../../../snapshot/mount.ts';
import { containerMounts, expandSubPathExpr, pinSubPath, resolveSubPath, subPathProblem, subPathTarget } from './container-mounts.ts';
import { volumeDir } from './volume-paths.ts';

let root: string;
let outside: string;
before(async () => {
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'berth-mounts-')));
  outside = path.join(root, 'outside');
  await mkdir(outside);
});
after(async () => {
  // The pinned subPaths first: removing through a bind mount would remove what it shows.
  for (const m of (await listMountPoints()).filter((p) => p.startsWith(`${root}/`)).reverse()) await unmount(m, { detach: true });
  await rm(root, { recursive: true, force: true });
});

test('a missing subPath is created inside the volume with the volume mode', async () => {
  const volume = path.join(root, 'vol-create');
  await mkdir(volume);
  const resolved = await resolveSubPath(volume, 'a/b/./c');
  assert.equal(resolved, path.join(volume, 'a/b/c'));
  assert.equal((await stat(resolved)).mode & 0o777, (await stat(volume)).mode & 0o777);
  await writeFile(path.join(volume, 'file'), 'x');
  assert.equal(await resolveSubPath(volume, 'file'), path.join(volume, 'file'));
});

test('a symlink inside the volume is followed while it stays inside; leading outside is refused', async () => {
  const volume = path.join(root, 'vol-links');
  await mkdir(path.join(volume, 'real'), { recursive: true });
  await symlink('real', path.join(volume, 'inner'));
  assert.equal(await resolveSubPath(volume, 'inner/x'), path.join(volume, 'real/x'));
  await symlink(outside, path.join(volume, 'escape'));
  await symlink('../outside', path.join(volume, 'relative-escape'));
  await symlink('/', path.join(volume, 'root'));
  for (const sub of ['escape', 'escape/new', 'relative-escape', 'root/etc']) {
    await assert.rejects(resolveSubPath(volume, sub), /leads outside of the volume/, sub);
  }
  await assert.rejects(stat(path.join(outside, 'new')), { code: 'ENOENT' }, 'nothing created outside');
});

test('subPath rules and subPathExpr expansion', () => {
  assert.equal(subPathProblem('/abs'), 'error SubPath `/abs` must not be an absolute path');
  assert.equal(subPathProblem('a/../../b'), "unable to provision SubPath `a/../../b`: must not contain '..'");
  assert.equal(subPathProblem('a/b..c'), undefined);
  const env = [
    { name: 'POD', value: 'web-1' },
    { name: 'EMPTY', value: '' },
  ];
  assert.equal(expandSubPathExpr('logs/$(POD)', env), 'logs/web-1');
  assert.equal(expandSubPathExpr('$$(POD)', env), '$(POD)');
  assert.throws(() => expandSubPathExpr('$(NOPE)/$(EMPTY)', env), { message: 'missing value for EMPTY, NOPE' });
});

const pod = (containers: Pod['spec']['containers'], volumes: Pod['spec']['volumes']): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'uid-1' },
  spec: { containers, volumes },
});

test('volumeMounts become CRI mounts: host paths, read-only, propagation, subPath', async () => {
  const hostDir = path.join(root, 'host');
  await mkdir(hostDir);
  const p = pod(
    [
      {
        name: 'app',
        securityContext: { privileged: true },
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'data', mountPath: '/logs', subPathExpr: '$(POD)', readOnly: true },
          { name: 'config', mountPath: '/etc/app' },
          { name: 'host', mountPath: '/host', mountPropagation: 'HostToContainer' },
          { name: 'host', mountPath: '/shared', mountPropagation: 'Bidirectional' },
        ],
      },
    ],
    [
      { name: 'data', emptyDir: {} },
      { name: 'config', configMap: { name: 'cm' } },
      { name: 'host', hostPath: { path: hostDir } },
    ],
  );
  const dataDir = volumeDir(root, 'uid-1', 'empty-dir', 'data');
  await mkdir(dataDir, { recursive: true });
  const mounts = await containerMounts(p, p.spec.containers[0]!, [{ name: 'POD', value: 'p-1' }], root);
  assert.deepEqual(
    mounts.map((m) => [m.containerPath, m.hostPath, m.readonly, m.propagation]),
    [
      ['/data', dataDir, false, MountPropagation.PROPAGATION_PRIVATE],
      ['/logs', subPathTarget(root, 'uid-1', 'data', 'app', 1), true, MountPropagation.PROPAGATION_PRIVATE],
      ['/etc/app', volumeDir(root, 'uid-1', 'configmap', 'config'), true, MountPropagation.PROPAGATION_PRIVATE],
      ['/host', hostDir, false, MountPropagation.PROPAGATION_HOST_TO_CONTAINER],
      ['/shared', hostDir, false, MountPropagation.PROPAGATION_BIDIRECTIONAL],
    ],
  );
});

test('mounts that cannot be made fail with the kubelet messages', async () => {
  const volumes = [{ name: 'data', emptyDir: {} }];
  await mkdir(volumeDir(root, 'uid-1', 'empty-dir', 'data'), { recursive: true });
  await symlink(outside, path.join(volumeDir(root, 'uid-1', 'empty-dir', 'data'), 'out'));
  const cases: [Pod['spec']['containers'][number]['volumeMounts'], string | RegExp][] = [
    [[{ name: 'nope', mountPath: '/x' }], 'cannot find volume "nope" to mount into container "c"'],
    [[{ name: 'data', mountPath: '/x', mountPropagation: 'Bidirectional' }], /available only to privileged containers/],
    [[{ name: 'data', mountPath: '/x', subPath: '/etc' }], 'error SubPath `/etc` must not be an absolute path'],
    [[{ name: 'data', mountPath: '/x', subPath: 'out/x' }], 'failed to prepare subPath for volumeMount "data" of container "c"'],
    [[{ name: 'data', mountPath: '/x', subPathExpr: '$(MISSING)' }], 'missing value for MISSING'],
  ];
  for (const [volumeMounts, message] of cases) {
    const p = pod([{ name: 'c', volumeMounts }], volumes);
    await assert.rejects(containerMounts(p, p.spec.containers[0]!, [], root), { message }, JSON.stringify(volumeMounts));
  }
});

test('a subPath is pinned by descriptor: swapping a directory for a symlink afterwards changes nothing (CVE-2021-25741)', async () => {
  const volume = volumeDir(root, 'uid-2', 'empty-dir', 'work');
  await mkdir(path.join(volume, 'sub'), { recursive: true });
  await writeFile(path.join(volume, 'sub', 'inside'), 'in the volume');
  await writeFile(path.join(outside, 'secret'), 'of the node');
  const p: Pod = {
    metadata: { name: 'p', namespace: 'default', uid: 'uid-2' },
    spec: {
      containers: [{ name: 'c', volumeMounts: [{ name: 'work', mountPath: '/w', subPath: 'sub' }] }],
      volumes: [{ name: 'work', emptyDir: {} }],
    },
  };
  const [mount] = await containerMounts(p, p.spec.containers[0]!, [], root);
  const target = subPathTarget(root, 'uid-2', 'work', 'c', 0);
  assert.equal(mount?.hostPath, target);
  assert.ok((await listMountPoints()).includes(target), 'the runtime gets a bind mount, not the path in the volume');
  // The container swaps the directory for a symlink to the node's files.
  await rename(path.join(volume, 'sub'), path.join(volume, 'sub-old'));
  await symlink(outside, path.join(volume, 'sub'));
  assert.deepEqual(await readdir(target), ['inside']);
  assert.equal(await readFile(path.join(target, 'inside'), 'utf8'), 'in the volume');
  // Pinning what is now a symlink is refused, even when handed the path directly.
  await assert.rejects(pinSubPath(volume, path.join(volume, 'sub'), subPathTarget(root, 'uid-2', 'work', 'c', 1)), /outside of the volume/);
  // The container restarts: the same target is pinned again (to what the subPath is now: refused).
  await assert.rejects(containerMounts(p, p.spec.containers[0]!, [], root), /failed to prepare subPath/);
});
