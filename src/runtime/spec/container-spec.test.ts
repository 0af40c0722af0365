import assert from 'node:assert/strict';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { OCI_RUNTIME_SPEC_VERSION } from '../../oci/runtime-spec.ts';
import { CriAnnotation } from './annotations.ts';
import { KNOWN_CAPABILITIES } from './capabilities.ts';
import { buildContainerSpec } from './container-spec.ts';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_PATH_ENV, DEFAULT_READONLY_PATHS } from './defaults.ts';
import type { ContainerSpecInput } from './spec-input.ts';

async function fixture(dir: string): Promise<{ rootfs: string; pod: ContainerSpecInput['pod'] }> {
  const base = await realpath(dir);
  const rootfs = join(base, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n');
  await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nwww:x:33:\nlog:x:4:www\n');
  const podDir = join(base, 'pod');
  await mkdir(join(podDir, 'shm'), { recursive: true });
  await writeFile(join(podDir, 'hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(podDir, 'resolv.conf'), 'nameserver 10.96.0.10\n');
  await writeFile(join(podDir, 'hostname'), 'web-0\n');
  return {
    rootfs,
    pod: {
      id: 'pod1',
      name: 'web-0',
      namespace: 'default',
      uid: 'uid-1',
      hostname: 'web-0',
      cgroupParent: '/kubepods/besteffort/poduid-1',
      namespacePaths: { network: '/run/berth/ns/net/pod1', ipc: '/run/berth/ns/ipc/pod1', uts: '/run/berth/ns/uts/pod1' },
      hostsPath: join(podDir, 'hosts'),
      resolvConfPath: join(podDir, 'resolv.conf'),
      hostnamePath: join(podDir, 'hostname'),
      shmPath: join(podDir, 'shm'),
      namespaceOptions: { network: 'pod', ipc: 'pod', pid: 'container' },
    },
  };
}

const IMAGE = {
  User: 'www',
  Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NGINX_VERSION=1.14'],
  Entrypoint: ['/docker-entrypoint.sh'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  WorkingDir: '/srv',
};

test('a typical container: golden check of the important fields', async () => {
  await using dir = await makeTempDir();
  const { rootfs, pod } = await fixture(dir.path);
  const spec = await buildContainerSpec({
    id: 'c1',
    config: {
      name: 'nginx',
      args: ['nginx', '-g', 'daemon off; worker_processes 1;'],
      envs: [{ key: 'NGINX_VERSION', value: 'override' }],
      resources: { cpuShares: 256, cpuQuota: 20000, cpuPeriod: 100000, memoryLimitInBytes: 64 << 20, oomScoreAdj: -997 },
      securityContext: { namespaceOptions: { network: 'pod', ipc: 'pod', pid: 'container' }, supplementalGroups: [1234] },
    },
    image: IMAGE,
    imageName: 'registry.local/nginx:1.14',
    rootfs,
    rootPath: 'rootfs',
    pod,
    host: { minOomScoreAdj: -500, swapAvailable: true, cgroupV2: false, arch: 'x64' },
    annotations: { 'example.org/extra': 'yes' },
  });

  assert.equal(spec.ociVersion, OCI_RUNTIME_SPEC_VERSION);
  assert.deepEqual(spec.root, { path: 'rootfs', readonly: false });
  assert.equal(spec.hostname, undefined, 'the pod owns the hostname');
  const p = spec.process!;
  assert.deepEqual(p.args, ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off; worker_processes 1;']);
  assert.deepEqual(p.env, ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOSTNAME=web-0', 'NGINX_VERSION=override']);
  assert.equal(p.cwd, '/srv');
  assert.deepEqual(p.user, { uid: 33, gid: 33, additionalGids: [4, 33, 1234] });
  assert.equal(p.terminal, undefined);
  assert.equal(p.noNewPrivileges, false);
  assert.deepEqual(p.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(p.oomScoreAdj, -500, 'clamped to the daemon');
  assert.equal(p.apparmorProfile, undefined);
  assert.equal(p.rlimits, undefined);

  const l = spec.linux!;
  assert.deepEqual(l.namespaces, [
    { type: 'pid' },
    { type: 'ipc', path: '/run/berth/ns/ipc/pod1' },
    { type: 'uts', path: '/run/berth/ns/uts/pod1' },
    { type: 'mount' },
    { type: 'network', path: '/run/berth/ns/net/pod1' },
  ]);
  assert.equal(l.cgroupsPath, '/kubepods/besteffort/poduid-1/c1');
  assert.deepEqual(l.resources?.cpu, { shares: 256, quota: 20000, period: 100000 });
  assert.deepEqual(l.resources?.memory, { limit: 64 << 20, swap: 64 << 20 });
  assert.deepEqual(l.resources?.devices?.[0], { allow: false, access: 'rwm' });
  assert.deepEqual(l.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.deepEqual(l.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assert.equal(l.seccomp, undefined, 'no profile asked for: unconfined, as containerd');
  assert.equal(l.devices, undefined);
  assert.equal(l.rootfsPropagation, undefined);

  assert.deepEqual(
    spec.mounts!.map((m) => `${m.destination} ${m.type} ${m.source}`),
    [
      '/proc proc proc',
      '/dev tmpfs tmpfs',
      '/dev/pts devpts devpts',
      `/dev/shm bind ${pod.shmPath}`,
      '/dev/mqueue mqueue mqueue',
      '/sys sysfs sysfs',
      '/sys/fs/cgroup cgroup cgroup',
      `/etc/hostname bind ${pod.hostnamePath}`,
      `/etc/hosts bind ${pod.hostsPath}`,
      `/etc/resolv.conf bind ${pod.resolvConfPath}`,
    ],
  );
  assert.deepEqual(spec.annotations, {
    'example.org/extra': 'yes',
    [CriAnnotation.containerType]: 'container',
    [CriAnnotation.sandboxId]: 'pod1',
    [CriAnnotation.sandboxName]: 'web-0',
    [CriAnnotation.sandboxNamespace]: 'default',
    [CriAnnotation.sandboxUid]: 'uid-1',
    [CriAnnotation.containerName]: 'nginx',
    [CriAnnotation.imageName]: 'registry.local/nginx:1.14',
  });
  // The whole spec is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
});

test('security options reach the spec', async () => {
  await using dir = await makeTempDir();
  const { rootfs, pod } = await fixture(dir.path);
  const spec = await buildContainerSpec({
    id: 'c2',
    config: {
      command: ['/bin/sh'],
      tty: true,
      securityContext: {
        runAsUser: 1000,
        runAsGroup: 3000,
        readonlyRootfs: true,
        noNewPrivs: true,
        capabilities: { addCapabilities: ['sys_admin'], dropCapabilities: ['CAP_NET_RAW'] },
        maskedPaths: ['/bin/ls'],
        readonlyPaths: ['/tmp'],
        seccomp: { type: 'runtime-default' },
        namespaceOptions: { pid: 'container' },
      },
    },
    image: IMAGE,
    rootfs,
    pod,
    host: { arch: 'x64' },
  });
  const p = spec.process!;
  assert.deepEqual(p.args, ['/bin/sh']);
  assert.equal(p.terminal, true);
  assert.ok(p.env!.includes('TERM=xterm'));
  assert.deepEqual(p.user, { uid: 1000, gid: 3000, additionalGids: [3000] });
  assert.equal(p.noNewPrivileges, true);
  assert.ok(p.capabilities!.bounding!.includes('CAP_SYS_ADMIN'));
  assert.ok(!p.capabilities!.bounding!.includes('CAP_NET_RAW'));
  assert.equal(spec.root!.readonly, true);
  // A read-only root makes the pod's files read-only too.
  assert.ok(spec.mounts!.find((m) => m.destination === '/etc/hosts')!.options!.includes('ro'));
  assert.deepEqual(spec.linux!.maskedPaths, ['/bin/ls']);
  assert.deepEqual(spec.linux!.readonlyPaths, ['/tmp']);
  const seccomp = spec.linux!.seccomp!;
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
  // CAP_SYS_ADMIN in the bounding set unlocks mount & co.
  assert.ok(seccomp.syscalls!.some((s) => s.names.includes('sethostname') && s.action === 'SCMP_ACT_ALLOW'));
  assert.equal(p.oomScoreAdj, undefined, 'no resources, no OOM score');
});

test('privileged: all caps, no seccomp, no masks, writable sysfs, all devices', async () => {
  await using dir = await makeTempDir();
  const { rootfs, pod } = await fixture(dir.path);
  const caps = KNOWN_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
  const spec = await buildContainerSpec({
    id: 'c3',
    config: {
      command: ['/bin/sh'],
      securityContext: { privileged: true, seccomp: { type: 'runtime-default' }, namespaceOptions: { pid: 'container' } },
    },
    image: IMAGE,
    rootfs,
    pod: { ...pod, privileged: true },
    host: {
      allCapabilities: caps,
      cgroupV2: true,
      hostDevices: [{ path: '/dev/kvm', type: 'c', major: 10, minor: 232, fileMode: 0o660, uid: 0, gid: 0 }],
    },
  });
  assert.deepEqual(spec.process!.capabilities!.bounding, caps);
  assert.equal(spec.linux!.seccomp, undefined);
  assert.deepEqual(spec.linux!.maskedPaths, []);
  assert.deepEqual(spec.linux!.readonlyPaths, []);
  assert.ok(spec.mounts!.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  assert.ok(spec.mounts!.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('rw'));
  assert.deepEqual(spec.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.deepEqual(spec.linux!.devices, [{ path: '/dev/kvm', type: 'c', major: 10, minor: 232, fileMode: 0o660, uid: 0, gid: 0 }]);
  // cgroup v2: no cgroup namespace for a privileged container.
  assert.ok(!spec.linux!.namespaces!.some((n) => n.type === 'cgroup'));

  await assert.rejects(
    buildContainerSpec({ id: 'c4', config: { command: ['x'], securityContext: { privileged: true } }, image: IMAGE, rootfs, pod }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'privileged-not-allowed',
  );
});

test('requests the image cannot satisfy are invalid-argument errors', async () => {
  await using dir = await makeTempDir();
  const { rootfs, pod } = await fixture(dir.path);
  const base = { id: 'c5', image: IMAGE, rootfs, pod };
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { runAsUsername: 'nobody' } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'user-not-found',
  );
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { runAsGroup: 5 } } }),
    (e) => isBerthError(e, 'invalid-argument') && /without run_as_user/.test(e.message),
  );
  await assert.rejects(
    buildContainerSpec({ ...base, image: { User: 'root' }, config: { command: ['x'], securityContext: { runAsNonRoot: true } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'run-as-root',
  );
  await assert.rejects(
    buildContainerSpec({ ...base, image: {}, config: {} }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'no-command',
  );
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { capabilities: { addCapabilities: ['FLY'] } } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'unknown-capability',
  );
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { seccomp: { type: 'localhost', ref: join(dir.path, 'none.json') } } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'invalid-seccomp-profile',
  );
  await assert.rejects(
    buildContainerSpec({
      ...base,
      config: { securityContext: { apparmor: { type: 'runtime-default' } } },
      host: { apparmorEnabled: false },
    }),
    (e) => isBerthError(e, 'failed-precondition'),
  );
  await assert.rejects(
    buildContainerSpec({ ...base, config: { devices: [{ hostPath: join(dir.path, 'nodev'), containerPath: '/dev/x' }] } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'device-not-found',
  );
  // pid mode POD without a pod PID namespace, TARGET without the target's (the container's options win over the pod's).
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { namespaceOptions: { pid: 'pod' } } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'missing-pod-namespace',
  );
  await assert.rejects(
    buildContainerSpec({ ...base, config: { securityContext: { namespaceOptions: { pid: 'target', targetId: 'x' } } } }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'missing-target-namespace',
  );
});

test('host namespaces, TARGET pid, devices, mounts with propagation, a standalone container', async () => {
  await using dir = await makeTempDir();
  const { rootfs, pod } = await fixture(dir.path);
  const base = await realpath(dir.path);
  const spec = await buildContainerSpec({
    id: 'c6',
    config: {
      command: ['/bin/true'],
      devices: [{ hostPath: '/dev/null', containerPath: '/dev/xnull', permissions: 'rw' }],
      mounts: [
        { containerPath: '/data/cache', hostPath: join(base, 'cache') },
        { containerPath: '/data', hostPath: join(base, 'data'), readonly: true },
      ],
      securityContext: { namespaceOptions: { network: 'node', ipc: 'node', pid: 'target', targetId: 'c0' } },
    },
    image: IMAGE,
    rootfs,
    pod: { ...pod, cgroupParent: 'kubepods-pod1.slice' },
    targetPidNamespace: '/proc/4242/ns/pid',
    host: { cgroupDriver: 'systemd', pidsLimit: 100 },
  });
  assert.deepEqual(spec.linux!.namespaces, [{ type: 'pid', path: '/proc/4242/ns/pid' }, { type: 'mount' }]);
  assert.equal(spec.linux!.cgroupsPath, 'kubepods-pod1.slice:berth:c6');
  assert.deepEqual(spec.linux!.resources!.pids, { limit: 100 });
  assert.deepEqual(
    spec.linux!.devices?.map((d) => [d.path, d.type, d.major, d.minor]),
    [['/dev/xnull', 'c', 1, 3]],
  );
  assert.deepEqual(spec.linux!.resources!.devices!.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
  // Host IPC: the node's /dev/shm.
  assert.equal(spec.mounts!.find((m) => m.destination === '/dev/shm')!.source, '/dev/shm');
  const binds = spec.mounts!.filter((m) => m.destination.startsWith('/data')).map((m) => [m.destination, m.options]);
  assert.deepEqual(binds, [
    ['/data', ['rbind', 'rprivate', 'ro']],
    ['/data/cache', ['rbind', 'rprivate', 'rw']],
  ]);

  // No pod at all: private namespaces, the pod's hostname set in the container's own UTS namespace.
  const alone = await buildContainerSpec({
    id: 'c7',
    config: { command: ['/bin/true'], securityContext: { namespaceOptions: { network: 'container', ipc: 'container', pid: 'container' } } },
    image: {},
    rootfs,
    pod: { id: 'p', hostname: 'solo' },
    host: { cgroupV2: true },
  });
  assert.equal(alone.hostname, 'solo');
  assert.deepEqual(
    alone.linux!.namespaces!.map((n) => n.type),
    ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup'],
  );
  assert.equal(alone.linux!.cgroupsPath, undefined);
  assert.deepEqual(alone.process!.env, [DEFAULT_PATH_ENV, 'HOSTNAME=solo']);
  assert.deepEqual(alone.process!.user, { uid: 0, gid: 0, additionalGids: [0] });
});
