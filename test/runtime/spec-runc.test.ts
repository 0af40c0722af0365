// Specs from buildContainerSpec run by the real runc: a bundle whose rootfs holds Debian's static
// busybox, pod namespaces pinned to files the way a pod's are (net, ipc, uts), and checks from
// inside the container of what the spec asked for: user and groups, capabilities, no_new_privs,
// seccomp mode and the default profile's capability rules, masked and read-only paths, the OOM
// score clamp, cgroup limits and mounts. Needs root, runc and busybox-static.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RuntimeSpec } from '../../src/oci/runtime-spec.ts';
import { capabilitiesFromMask, KNOWN_CAPABILITIES } from '../../src/runtime/spec/capabilities.ts';
import { buildContainerSpec } from '../../src/runtime/spec/container-spec.ts';
import { DEFAULT_CAPABILITIES } from '../../src/runtime/spec/defaults.ts';
import { detectHostOptions } from '../../src/runtime/spec/host-features.ts';
import { buildSandboxSpec } from '../../src/runtime/spec/sandbox-spec.ts';
import type { ContainerConfigInput, HostOptions, PodInput } from '../../src/runtime/spec/spec-input.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot
  ? 'needs root'
  : RUNC === undefined
    ? 'runc is not installed'
    : BUSYBOX === undefined
      ? 'busybox-static is not installed'
      : false;

const APPLETS = ['sh', 'cat', 'id', 'grep', 'true', 'false', 'hostname', 'touch', 'wc', 'echo', 'ls', 'head', 'unshare'];

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const maskOf = (caps: readonly string[]): string =>
  caps
    .reduce((m, c) => m | (1n << BigInt(KNOWN_CAPABILITIES.indexOf(c))), 0n)
    .toString(16)
    .padStart(16, '0');

describe('generated specs run under runc', () => {
  let dir: TempDir;
  let base: string;
  let rootfs: string;
  let nsDir: string;
  let host: HostOptions;
  let pod: PodInput;
  let counter = 0;
  const pinned: string[] = [];

  before(async () => {
    dir = await makeTempDir('berth-spec-runc-');
    base = await realpath(dir.path);
    rootfs = join(base, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'data']) await mkdir(join(rootfs, d), { recursive: true });
    await copyFile(BUSYBOX!, join(rootfs, 'bin', 'busybox'));
    for (const a of APPLETS) await symlink('busybox', join(rootfs, 'bin', a));
    await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nwheel:x:10:app\napp:x:1000:\n');
    host = { ...(await detectHostOptions()), arch: process.arch };

    // A pod the way a runtime pins one: namespace files on a private bind mount, the hostname set.
    nsDir = join(base, 'ns');
    await mkdir(nsDir);
    execFileSync('mount', ['--bind', nsDir, nsDir]);
    pinned.push(nsDir);
    execFileSync('mount', ['--make-private', nsDir]);
    for (const n of ['net', 'ipc', 'uts']) await writeFile(join(nsDir, n), '');
    execFileSync('unshare', [
      `--net=${join(nsDir, 'net')}`,
      `--ipc=${join(nsDir, 'ipc')}`,
      `--uts=${join(nsDir, 'uts')}`,
      'hostname',
      'spec-pod',
    ]);
    for (const n of ['net', 'ipc', 'uts']) pinned.unshift(join(nsDir, n));
    const podDir = join(base, 'pod');
    await mkdir(podDir);
    await writeFile(join(podDir, 'hosts'), '127.0.0.1 localhost spec-pod\n');
    await writeFile(join(podDir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
    pod = {
      id: 'spec-pod',
      hostname: 'spec-pod',
      namespacePaths: { network: join(nsDir, 'net'), ipc: join(nsDir, 'ipc'), uts: join(nsDir, 'uts') },
      namespaceOptions: { network: 'pod', ipc: 'pod', pid: 'container' },
      hostsPath: join(podDir, 'hosts'),
      resolvConfPath: join(podDir, 'resolv.conf'),
    };
  });

  after(async () => {
    for (const m of pinned) {
      try {
        execFileSync('umount', [m]);
      } catch {
        // already gone
      }
    }
    await dir?.remove();
  });

  async function run(
    config: ContainerConfigInput,
    opts: { pod?: Partial<PodInput>; host?: HostOptions; edit?: (s: RuntimeSpec) => void } = {},
  ): Promise<RunResult> {
    const id = `berth-spec-${process.pid}-${++counter}`;
    const spec = await buildContainerSpec({
      id,
      config,
      image: { Env: ['PATH=/bin'] },
      rootfs,
      pod: { ...pod, ...opts.pod },
      host: opts.host ?? host,
    });
    opts.edit?.(spec);
    return runSpec(id, spec);
  }

  async function runSpec(id: string, spec: RuntimeSpec): Promise<RunResult> {
    const bundle = join(base, 'bundles', id);
    await mkdir(bundle, { recursive: true });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    const state = join(base, 'runc-state');
    return new Promise((resolve) => {
      execFile(RUNC!, ['--root', state, 'run', '--bundle', bundle, id], { timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        if (err !== null) execFile(RUNC!, ['--root', state, 'delete', '--force', id], () => {});
        resolve({ code, stdout, stderr });
      });
    });
  }

  const sh = (script: string): string[] => ['/bin/sh', '-c', script];

  test('busybox true runs with the default seccomp profile', async () => {
    const r = await run({ command: ['/bin/busybox', 'true'], securityContext: { seccomp: { type: 'runtime-default' } } });
    assert.equal(r.code, 0, r.stderr);
  });

  test('run_as_user / run_as_username: id in the container', async () => {
    const byName = await run({ command: ['/bin/id'], securityContext: { runAsUsername: 'app', supplementalGroups: [1234] } });
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.stdout.trim(), 'uid=1000(app) gid=1000(app) groups=10(wheel),1000(app),1234');
    const byUid = await run({ command: ['/bin/id'], securityContext: { runAsUser: 1000, runAsGroup: 2000 } });
    assert.equal(byUid.code, 0, byUid.stderr);
    assert.equal(byUid.stdout.trim(), 'uid=1000(app) gid=2000 groups=10(wheel),2000');
  });

  test('capabilities, NoNewPrivs and seccomp mode 2 from /proc/self/status; the OOM score is clamped', async () => {
    const caps = DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN').concat('CAP_NET_ADMIN');
    const r = await run({
      command: sh('grep -E "^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/oom_score_adj'),
      resources: { oomScoreAdj: -998 },
      securityContext: {
        noNewPrivs: true,
        seccomp: { type: 'runtime-default' },
        capabilities: { addCapabilities: ['net_admin'], dropCapabilities: ['CHOWN'] },
      },
    });
    assert.equal(r.code, 0, r.stderr);
    const field = (k: string): string => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(r.stdout)?.[1] ?? '';
    assert.equal(field('CapBnd'), maskOf(caps));
    assert.equal(field('CapEff'), maskOf(caps));
    assert.equal(field('CapPrm'), maskOf(caps));
    assert.equal(field('CapInh'), '0000000000000000');
    assert.equal(field('CapAmb'), '0000000000000000');
    assert.deepEqual(new Set(capabilitiesFromMask(field('CapBnd'))), new Set(caps));
    assert.equal(field('NoNewPrivs'), '1');
    assert.equal(field('Seccomp'), '2');
    assert.equal(r.stdout.trim().split('\n').at(-1), String(Math.max(-998, host.minOomScoreAdj ?? -1000)));
  });

  test('unconfined, no no_new_privs, drop ALL', async () => {
    const r = await run({
      command: sh('grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status'),
      securityContext: { seccomp: { type: 'unconfined' }, capabilities: { dropCapabilities: ['ALL'] } },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CapBnd:\s+0000000000000000$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+0$/m);
    assert.match(r.stdout, /^Seccomp:\s+0$/m);
  });

  test('seccomp: the default profile refuses unshare, allows sethostname with CAP_SYS_ADMIN; a Localhost profile applies', async () => {
    const own = { network: 'container', ipc: 'container', pid: 'container' } as const;
    // Creating a user namespace needs no capability: only the filter can refuse it.
    const free = await run({
      command: ['/bin/unshare', '-U', '/bin/true'],
      securityContext: { namespaceOptions: own, seccomp: { type: 'unconfined' } },
    });
    assert.equal(free.code, 0, free.stderr);
    const filtered = await run({
      command: ['/bin/unshare', '-U', '/bin/true'],
      securityContext: { namespaceOptions: own, seccomp: { type: 'runtime-default' } },
    });
    assert.notEqual(filtered.code, 0);
    assert.match(filtered.stderr, /Operation not permitted/);
    // sethostname is allowed by the default profile only when CAP_SYS_ADMIN is held.
    const allowed = await run({
      command: sh('hostname renamed && hostname'),
      securityContext: { namespaceOptions: own, seccomp: { type: 'runtime-default' }, capabilities: { addCapabilities: ['SYS_ADMIN'] } },
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout.trim(), 'renamed');
    const profile = join(base, 'block-hostname.json');
    await writeFile(
      profile,
      JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] }),
    );
    const blocked = await run({
      command: ['/bin/hostname', 'renamed'],
      securityContext: {
        namespaceOptions: own,
        seccomp: { type: 'localhost', ref: profile },
        capabilities: { addCapabilities: ['SYS_ADMIN'] },
      },
    });
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /Operation not permitted/);
  });

  test('the pod namespaces are joined: hostname of the pinned UTS namespace, the pod files mounted', async () => {
    const r = await run({ command: sh('hostname; cat /etc/hosts; echo $HOSTNAME') });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['spec-pod', '127.0.0.1 localhost spec-pod', 'spec-pod']);
  });

  test('masked and read-only paths, read-only root, read-only bind mount', async () => {
    const data = join(base, 'hostdata');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'file'), 'from the host\n');
    const r = await run({
      command: sh(
        'wc -c < /proc/timer_list; touch /proc/sys/kernel/x 2>/dev/null && echo sys-writable || echo sys-ro; ' +
          'touch /rootfile 2>/dev/null && echo root-writable || echo root-ro; cat /data/file; ' +
          'touch /data/new 2>/dev/null && echo data-writable || echo data-ro; touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-ro',
      ),
      mounts: [
        { containerPath: '/data', hostPath: data, readonly: true },
        { containerPath: '/tmp', hostPath: join(base, 'scratch') },
      ],
      securityContext: { readonlyRootfs: true },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['0', 'sys-ro', 'root-ro', 'from the host', 'data-ro', 'tmp-writable']);
  });

  test('masked paths from the request replace the defaults', async () => {
    await writeFile(join(rootfs, 'etc', 'secret'), 'secret\n');
    const r = await run({
      command: sh('wc -c < /etc/secret; wc -c < /proc/timer_list'),
      securityContext: { maskedPaths: ['/etc/secret'] },
    });
    assert.equal(r.code, 0, r.stderr);
    const [secret, timers] = r.stdout.trim().split('\n');
    assert.equal(secret, '0');
    assert.notEqual(timers, '0');
  });

  test('cgroup limits reach the cgroup (memory and cpu, v1 or v2 files)', async () => {
    const files = host.cgroupV2
      ? '/sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max'
      : '/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us';
    const r = await run({
      command: sh(`cat ${files}`),
      resources: { memoryLimitInBytes: 64 << 20, cpuShares: 256, cpuQuota: 50000, cpuPeriod: 100000 },
    });
    assert.equal(r.code, 0, r.stderr);
    const expected = host.cgroupV2 ? [String(64 << 20), '50000 100000'] : [String(64 << 20), '256', '50000'];
    assert.deepEqual(r.stdout.trim().split('\n'), expected);
  });

  test('privileged: every capability the daemon holds, sysfs writable, host devices', async () => {
    const r = await run(
      {
        command: sh('grep -E "^(CapBnd|Seccomp):" /proc/self/status; grep -w sysfs /proc/mounts | head -1; ls /dev/null /dev/zero'),
        securityContext: { privileged: true, seccomp: { type: 'runtime-default' } },
      },
      { pod: { privileged: true } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^CapBnd:\\s+${maskOf(host.allCapabilities ?? KNOWN_CAPABILITIES)}$`, 'm'));
    assert.match(r.stdout, /^Seccomp:\s+0$/m);
    assert.match(r.stdout, /sysfs \/sys sysfs rw/);
  });

  test('the infra container spec runs: read-only root, its own namespaces and hostname, 2 CPU shares', async () => {
    const id = `berth-spec-${process.pid}-${++counter}`;
    const spec = await buildSandboxSpec({
      id,
      hostname: 'infra-pod',
      securityContext: { seccomp: { type: 'runtime-default' }, namespaceOptions: { network: 'pod', pid: 'pod', ipc: 'pod' } },
      image: {
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: ['hostname; cat /proc/self/oom_score_adj /sys/fs/cgroup/cpu/cpu.shares; touch /x || echo ro'],
      },
      rootfs,
      host,
    });
    const r = await runSpec(id, spec);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'infra-pod');
    assert.equal(lines[1], String(Math.max(-998, host.minOomScoreAdj ?? -1000)));
    if (host.cgroupV2 !== true) assert.equal(lines[2], '2');
    assert.equal(lines.at(-1), 'ro');
  });

  test("a user namespace of mode POD: the mapping from the request, the pod namespaces joined, /sys the node's read-only", async () => {
    // The container's root (host uid 100000) must reach the bundle.
    await chmod(base, 0o711);
    const mapping = [{ hostId: 100000, containerId: 0, length: 65536 }];
    const r = await run({
      command: sh(
        'cat /proc/self/uid_map /proc/self/gid_map; id -u; hostname; grep " /sys " /proc/self/mounts; test -e /dev/mqueue || echo no-mqueue',
      ),
      securityContext: {
        namespaceOptions: { network: 'pod', ipc: 'pod', pid: 'container', usernsOptions: { mode: 'pod', uids: mapping, gids: mapping } },
      },
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(
      lines.slice(0, 4).map((l) => l.trim().split(/\s+/).join(' ')),
      ['0 100000 65536', '0 100000 65536', '0', 'spec-pod'],
    );
    assert.match(lines[4]!, /^\S+ \/sys sysfs ro,/);
    assert.equal(lines[5], 'no-mqueue');
  });

  test('without the clamp, an OOM score below the daemon fails in runc exactly when CAP_SYS_RESOURCE is missing', async () => {
    const r = await run({ command: ['/bin/true'], resources: { oomScoreAdj: -999 } }, { host: { ...host, minOomScoreAdj: -1000 } });
    if (host.allCapabilities?.includes('CAP_SYS_RESOURCE') === false) {
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /oom_score_adj/);
    } else {
      assert.equal(r.code, 0, r.stderr);
    }
  });
});

// The checks above need root and the binaries (scripts/install-test-deps-runtime.sh installs them).
test('integration prerequisites', () => {
  assert.equal(skip, false, `prerequisites missing: ${skip}`);
  accessSync(RUNC!, constants.X_OK);
  accessSync(BUSYBOX!, constants.X_OK);
});
