// Pinned pod namespaces against the real kernel (root): created, seen from inside, propagated,
// removed without a trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBerthError } from '../../src/errors/errors.ts';
import { readMountInfo } from '../../src/network/mountinfo.ts';
import {
  createPodNamespaces,
  listPodNamespaces,
  podNamespacePaths,
  releaseNamespaceRoot,
  removePodNamespaces,
  setPodSysctls,
} from '../../src/network/pod-namespaces.ts';
import { waitFor } from '../agent/support/wait-for.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { must } from './support.ts';

const asRoot = process.getuid?.() === 0;
let tmp: TempDir;
let root: string;

before(async () => {
  tmp = await makeTempDir('berth-ns-');
  root = path.join(tmp.path, 'ns');
});

after(async () => {
  // Whatever a failed test left: pods' mounts first, then the root's own bind mount.
  for (const m of (await readMountInfo()).reverse()) {
    if (m.mountPoint.startsWith(`${tmp.path}/`)) await must('umount', ['--lazy', m.mountPoint]).catch(() => {});
  }
  await releaseNamespaceRoot(root).catch(() => {});
  await tmp.remove();
});

async function mountsUnder(dir: string) {
  return (await readMountInfo()).filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`));
}

/** Runs `sh -c script` inside the given namespaces. */
function inside(enter: string[], script: string): Promise<string> {
  return must('nsenter', [...enter, '--', 'sh', '-c', script]);
}

describe('pod namespaces', () => {
  before(() => assert.ok(asRoot, 'these tests need root'));
  test('net, IPC and UTS are new, the hostname and sysctls are set, lo is up; removal leaves no mount', async () => {
    const paths = await createPodNamespaces({
      root,
      podId: 'pod-a',
      network: true,
      ipc: true,
      uts: true,
      hostname: 'pod-a.example',
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shmmni': '1024', 'net/ipv4/conf/lo/forwarding': '1' },
    });
    assert.deepEqual(paths, podNamespacePaths(root, 'pod-a'));
    const host = await must('readlink', ['/proc/self/ns/net', '/proc/self/ns/ipc', '/proc/self/ns/uts']);
    const pod = await inside(
      [`--net=${paths.net}`, `--ipc=${paths.ipc}`, `--uts=${paths.uts}`],
      'readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts',
    );
    const [hn, hi, hu] = host.trim().split('\n');
    const [pn, pi, pu] = pod.trim().split('\n');
    assert.match(pn!, /^net:\[\d+\]$/);
    assert.notEqual(pn, hn);
    assert.notEqual(pi, hi);
    assert.notEqual(pu, hu);
    assert.equal((await inside([`--uts=${paths.uts}`], 'hostname')).trim(), 'pod-a.example');
    assert.notEqual((await must('hostname', [])).trim(), 'pod-a.example');
    assert.match(await inside([`--net=${paths.net}`], 'ip -o link show lo'), /<LOOPBACK,UP,LOWER_UP>/);
    assert.equal(
      (
        await inside(
          [`--net=${paths.net}`, `--ipc=${paths.ipc}`],
          'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni /proc/sys/net/ipv4/conf/lo/forwarding',
        )
      ).trim(),
      '80\n1024\n1',
    );
    assert.notEqual((await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).trim(), '80');

    // The root is a bind mount of itself in its own shared peer group; each namespace file is mounted once.
    const mounts = await mountsUnder(root);
    assert.ok(mounts[0]!.mountPoint === root && mounts[0]!.tags.some((t) => t.startsWith('shared:')));
    assert.deepEqual(
      mounts
        .filter((m) => m.fsType === 'nsfs')
        .map((m) => path.basename(m.mountPoint))
        .sort(),
      ['ipc', 'net', 'uts'],
    );

    // sysctls for a pod without an infra container, later.
    await setPodSysctls(paths, { 'net.core.somaxconn': '1000' });
    assert.equal((await inside([`--net=${paths.net}`], 'cat /proc/sys/net/core/somaxconn')).trim(), '1000');

    await removePodNamespaces(paths);
    assert.deepEqual(await mountsUnder(paths.dir!), []);
    assert.equal(existsSync(paths.dir), false);
    await removePodNamespaces(paths); // idempotent
    await removePodNamespaces(podNamespacePaths(root, 'never-created'));
  });

  test('an unmount reaches copies in mount namespaces made later (shared root)', async () => {
    const paths = await createPodNamespaces({ root, podId: 'pod-prop', network: true, ipc: false, uts: false });
    const child = spawn('unshare', ['--mount', '--propagation', 'slave', 'sleep', '60'], { stdio: 'ignore' });
    try {
      // unshare has made the namespace (and set its propagation) once it runs sleep.
      await waitFor(
        'unshare to exec sleep',
        async () => ((await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).startsWith('sleep\0') ? true : undefined),
        { intervalMs: 20 },
      );
      const seen = async () => (await readFile(`/proc/${child.pid}/mountinfo`, 'utf8')).includes(paths.net!);
      assert.equal(await seen(), true, 'the new mount namespace has a copy of the netns mount');
      await removePodNamespaces(paths);
      assert.equal(await seen(), false, 'our unmount propagated to the copy');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a root reached through a symlink (/var/run → /run): removal by the symlinked path still unmounts', async () => {
    const real = path.join(tmp.path, 'real');
    await mkdir(real);
    await symlink(real, path.join(tmp.path, 'link'));
    const linkRoot = path.join(tmp.path, 'link', 'ns');
    try {
      const created = await createPodNamespaces({ root: linkRoot, podId: 'pod-link', network: true, ipc: true, uts: true });
      assert.ok(created.net!.startsWith(`${real}/`), 'paths are canonical');
      assert.equal((await mountsUnder(real)).filter((m) => m.fsType === 'nsfs').length, 3);
      await removePodNamespaces(podNamespacePaths(linkRoot, 'pod-link'));
      assert.deepEqual(
        (await mountsUnder(real)).filter((m) => m.fsType === 'nsfs'),
        [],
      );
      assert.equal(existsSync(path.join(real, 'ns', 'pod-link')), false);
    } finally {
      await releaseNamespaceRoot(linkRoot);
    }
    assert.deepEqual(await mountsUnder(real), []);
  });

  test('host network, IPC and UTS: nothing is created', async () => {
    const paths = await createPodNamespaces({ root, podId: 'pod-host', network: false, ipc: false, uts: false, hostname: 'ignored' });
    assert.deepEqual(paths, { dir: path.join(root, 'pod-host') });
    assert.equal(existsSync(paths.dir), false);
    const ipcOnly = await createPodNamespaces({
      root,
      podId: 'pod-ipc',
      network: false,
      ipc: true,
      uts: false,
      sysctls: { 'kernel.msgmax': '9000' },
    });
    assert.deepEqual(Object.keys(ipcOnly).sort(), ['dir', 'ipc']);
    assert.equal((await inside([`--ipc=${ipcOnly.ipc}`], 'cat /proc/sys/kernel/msgmax')).trim(), '9000');
    await removePodNamespaces(ipcOnly);
    assert.deepEqual(await mountsUnder(ipcOnly.dir), []);
  });

  test('bad sysctls: refused before anything is made, or undone when the kernel refuses', async () => {
    const refused = [
      [{ 'kernel.panic': '1' }, 'sysctl-not-namespaced'],
      [{ 'net.core.somaxconn': '1' }, 'sysctl-host-namespace'],
    ] as const;
    for (const [sysctls, code] of refused) {
      await assert.rejects(
        createPodNamespaces({ root, podId: 'pod-bad', network: code !== 'sysctl-host-namespace', ipc: true, uts: true, sysctls }),
        (e: unknown) => isBerthError(e, 'invalid-argument') && e.code === code,
      );
    }
    const rejectedByKernel: Record<string, string>[] = [
      { 'net.ipv4.no_such_thing': '1' },
      { 'net.ipv4.ip_unprivileged_port_start': 'not-a-number' },
    ];
    for (const sysctls of rejectedByKernel) {
      await assert.rejects(createPodNamespaces({ root, podId: 'pod-bad', network: true, ipc: true, uts: true, sysctls }), (e: unknown) => {
        assert.ok(isBerthError(e, 'invalid-argument'), String(e));
        assert.equal(e.code, 'sysctl-failed');
        return true;
      });
      assert.deepEqual(await mountsUnder(path.join(root, 'pod-bad')), []);
      assert.equal(existsSync(path.join(root, 'pod-bad')), false);
    }
    await assert.rejects(
      createPodNamespaces({ root, podId: 'pod-bad', network: true, ipc: true, uts: true, hostname: 'bad name' }),
      (e: unknown) => isBerthError(e, 'invalid-argument'),
    );
    await assert.rejects(createPodNamespaces({ root, podId: '../escape', network: true, ipc: true, uts: true }), (e: unknown) =>
      isBerthError(e, 'invalid-argument'),
    );
  });

  test('the same pod twice: already-exists, and the first stays intact', async () => {
    const paths = await createPodNamespaces({ root, podId: 'pod-twice', network: true, ipc: true, uts: true, hostname: 'first' });
    assert.deepEqual(await listPodNamespaces(root), ['pod-twice']);
    await assert.rejects(createPodNamespaces({ root, podId: 'pod-twice', network: true, ipc: true, uts: true }), (e: unknown) =>
      isBerthError(e, 'already-exists'),
    );
    assert.equal((await inside([`--uts=${paths.uts}`], 'hostname')).trim(), 'first');
    await removePodNamespaces(paths);
  });

  test('a cancelled request gets its namespaces removed again', async () => {
    const ac = new AbortController();
    const p = createPodNamespaces({ root, podId: 'pod-cancel', network: true, ipc: true, uts: true, signal: ac.signal });
    setImmediate(() => ac.abort());
    await assert.rejects(p, (e: unknown) => isBerthError(e, 'cancelled'));
    assert.deepEqual(await mountsUnder(path.join(root, 'pod-cancel')), []);
  });

  test('twenty create and remove cycles in a row leave no mount and no directory', async () => {
    const before = await readMountInfo();
    for (let i = 0; i < 20; i++) {
      const paths = await createPodNamespaces({
        root,
        podId: `pod-t${i}`,
        network: true,
        ipc: true,
        uts: true,
        hostname: `t${i}`,
        sysctls: { 'net.ipv4.ping_group_range': '0 0' },
      });
      assert.equal((await inside([`--uts=${paths.uts}`], 'hostname')).trim(), `t${i}`);
      await removePodNamespaces(paths);
      assert.equal(existsSync(paths.dir!), false);
    }
    const mine = (ms: { mountPoint: string }[]) => ms.map((m) => m.mountPoint).filter((p) => /\/pod-t\d+(\/|$)/.test(p));
    assert.deepEqual(mine(await readMountInfo()), mine(before));
    assert.deepEqual(
      (await listPodNamespaces(root)).filter((id) => /^pod-t\d+$/.test(id)),
      [],
    );
  });
});
