import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { CriAnnotation } from './annotations.ts';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS } from './defaults.ts';
import { buildSandboxSpec } from './sandbox-spec.ts';

const PAUSE = { Entrypoint: ['/pause'], User: '65535:65535' };

test('the infra container: read-only, pause command, pod hostname, sysctls, shares 2, OOM -998 clamped', async () => {
  await using dir = await makeTempDir();
  const spec = await buildSandboxSpec({
    id: 'pod1',
    name: 'web-0',
    namespace: 'default',
    uid: 'uid-1',
    hostname: 'web-0',
    cgroupParent: '/kubepods/pod1',
    sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
    securityContext: { namespaceOptions: { network: 'pod', pid: 'pod', ipc: 'pod' }, seccomp: { type: 'runtime-default' } },
    image: PAUSE,
    imageName: 'registry.k8s.io/pause:3.9',
    rootfs: dir.path,
    rootPath: 'rootfs',
    namespacePaths: { network: '/run/berth/ns/net/pod1' },
    shmPath: '/run/berth/pods/pod1/shm',
    resolvConfPath: '/run/berth/pods/pod1/resolv.conf',
    host: { minOomScoreAdj: 0, arch: 'x64' },
  });
  assert.deepEqual(spec.root, { path: 'rootfs', readonly: true });
  assert.equal(spec.hostname, 'web-0');
  const p = spec.process!;
  assert.deepEqual(p.args, ['/pause']);
  assert.deepEqual(p.user, { uid: 65535, gid: 65535, additionalGids: [65535] });
  assert.equal(p.cwd, '/');
  assert.equal(p.noNewPrivileges, true);
  assert.equal(p.oomScoreAdj, 0);
  assert.deepEqual(p.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  const l = spec.linux!;
  assert.deepEqual(l.namespaces, [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'network', path: '/run/berth/ns/net/pod1' },
  ]);
  assert.equal(l.cgroupsPath, '/kubepods/pod1/pod1');
  assert.deepEqual(l.resources?.cpu, { shares: 2 });
  assert.deepEqual(l.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  assert.deepEqual(l.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.equal(l.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(
    spec.mounts!.find((m) => m.destination === '/dev/shm'),
    {
      destination: '/dev/shm',
      type: 'bind',
      source: '/run/berth/pods/pod1/shm',
      options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'],
    },
  );
  assert.equal(spec.mounts!.find((m) => m.destination === '/etc/resolv.conf')?.source, '/run/berth/pods/pod1/resolv.conf');
  assert.equal(spec.annotations?.[CriAnnotation.containerType], 'sandbox');
  assert.equal(spec.annotations?.[CriAnnotation.sandboxId], 'pod1');
  assert.equal(spec.annotations?.[CriAnnotation.containerName], undefined);
});

test('host namespaces, the pod user, privileged pods run without seccomp', async () => {
  await using dir = await makeTempDir();
  await mkdir(join(dir.path, 'etc'));
  await writeFile(join(dir.path, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\n');
  const spec = await buildSandboxSpec({
    id: 'pod2',
    hostname: 'node-a',
    securityContext: {
      namespaceOptions: { network: 'node', pid: 'node', ipc: 'node' },
      runAsUser: 1000,
      runAsGroup: 2000,
      supplementalGroups: [3000],
      privileged: true,
      seccomp: { type: 'runtime-default' },
    },
    image: { Cmd: ['/pause'] },
    rootfs: dir.path,
  });
  assert.deepEqual(spec.linux!.namespaces, [{ type: 'mount' }]);
  assert.equal(spec.hostname, undefined, 'the node keeps its name');
  assert.deepEqual(spec.process!.user, { uid: 1000, gid: 2000, additionalGids: [2000, 3000] });
  assert.equal(spec.linux!.seccomp, undefined);
  assert.equal(spec.process!.oomScoreAdj, -998);
  assert.equal(spec.mounts!.find((m) => m.destination === '/dev/shm')!.source, '/dev/shm');
  await assert.rejects(
    buildSandboxSpec({ id: 'p', image: {}, rootfs: dir.path }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'no-command',
  );
});
