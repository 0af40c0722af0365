// A real light VM under QEMU (TCG here, where KVM is broken): the guest that
// scripts/install-vm-guest.sh built (scripts/install.sh runs it), its agent over virtio-serial,
// a busybox container run by runc inside the guest from a 9p share. One VM serves the tests that
// need a running guest; every test leaves nothing (QEMU, socket, files) even when it fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBerthError } from '../../src/errors/errors.ts';
import { AgentClient } from '../../src/runtime/vm/agent-client.ts';
import { DEFAULT_GUEST_DIR, GUEST_SHARE, guestFromDir, probeAccelerator, QemuVm } from '../../src/runtime/vm/qemu.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

const guest = guestFromDir();

/** A bundle on the share: a static busybox as the rootfs and an OCI config that runs `script`. */
async function writeBundle(shareDir: string, id: string, script: string): Promise<string> {
  const bundle = join(shareDir, id);
  const rootfs = join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'sleep', 'ps', 'cat', 'hostname']) await symlink('busybox', join(rootfs, 'bin', applet));
  const caps = ['CAP_KILL', 'CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'];
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/sh', '-c', script],
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
    },
  };
  await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
  return `${GUEST_SHARE}/${id}`;
}

describe('a light VM under QEMU', () => {
  let dir: TempDir;
  let vm: QemuVm | undefined;
  let shareDir: string;

  before(async () => {
    dir = await makeTempDir('berth-vm-');
    shareDir = join(dir.path, 'share');
    await mkdir(shareDir);
    vm = await QemuVm.start({ stateDir: join(dir.path, 'vm'), shareDir, guest, memoryMiB: 128 });
  });
  after(async () => {
    await vm?.stop();
    await dir?.remove();
  });

  test('boots with the probed accelerator and its agent answers ping', async () => {
    assert.ok(vm);
    assert.equal(vm.accel, await probeAccelerator(guest));
    assert.ok(vm.isRunning());
    assert.ok(vm.bootMs !== undefined && vm.bootMs > 0);
    assert.deepEqual(await vm.agent.ping(), { protocol: 1, agent: 'berth-agent-sh/1' });
  });

  test("uname -r in the guest is the guest kernel's, not the host's", async () => {
    assert.ok(vm);
    const expected = (await readFile(join(DEFAULT_GUEST_DIR, 'current', 'kernel-release'), 'utf8')).trim();
    const { kernelRelease } = await vm.agent.info();
    assert.equal(kernelRelease, expected);
    assert.notEqual(kernelRelease, release());
    const r = await vm.agent.exec(['uname', '-r']);
    assert.deepEqual([r.exitCode, r.stdout.toString().trim()], [0, expected]);
  });

  test('exec in the guest: arguments as given, environment, output cut at a limit, a kill after a timeout', async () => {
    assert.ok(vm);
    const odd = ['with space', 'quote " and \' and \\', '$HOME `x` ;|&', 'é ✓'];
    const echoed = await vm.agent.exec(['sh', '-c', 'for a; do echo "[$a]"; done; echo "$GREETING" >&2', 'sh', ...odd], {
      env: ['GREETING=hello there'],
    });
    assert.equal(echoed.stdout.toString(), odd.map((a) => `[${a}]\n`).join(''));
    assert.equal(echoed.stderr.toString(), 'hello there\n');
    const cut = await vm.agent.exec(['sh', '-c', 'yes | head -c 5000'], { maxOutputBytes: 100 });
    assert.deepEqual([cut.stdout.length, cut.truncated], [100, { stdout: true, stderr: false }]);
    const killed = await vm.agent.exec(['sleep', '60'], { killAfterSeconds: 1 });
    assert.equal(killed.exitCode, 128 + 9);
  });

  test('a container from a 9p-shared busybox rootfs prints, exits 3, and the host sees 3', async () => {
    assert.ok(vm);
    const bundle = await writeBundle(shareDir, 'c3', 'echo hello from $(hostname); echo to stderr >&2; exit 3');
    const started = await vm.agent.run({ containerId: 'c3', bundle, stdout: `${bundle}/stdout`, stderr: `${bundle}/stderr` });
    assert.ok(started.pid > 0);
    assert.equal(await vm.agent.wait('c3', 20_000), 3);
    assert.deepEqual(await vm.agent.state('c3'), { status: 'stopped', exitCode: 3 });
    assert.equal(await readFile(join(shareDir, 'c3', 'stdout'), 'utf8'), 'hello from c3\n');
    assert.equal(await readFile(join(shareDir, 'c3', 'stderr'), 'utf8'), 'to stderr\n');
    await vm.agent.delete('c3');
    await assert.rejects(vm.agent.state('c3'), (e) => isBerthError(e, 'not-found') && e.fields.agentCode === 'not-found');
  });

  test("a process runc cannot start: run fails with runc's reason, and the ID is free again", async () => {
    assert.ok(vm);
    const bundle = await writeBundle(shareDir, 'broken', 'unused');
    const configPath = join(shareDir, 'broken', 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    config.process.args = ['/bin/no-such-program'];
    await writeFile(configPath, JSON.stringify(config));
    await assert.rejects(vm.agent.run({ containerId: 'broken', bundle }), (e) => {
      assert.ok(isBerthError(e, 'internal') && e.code === 'vm-agent-refused' && e.fields.agentCode === 'run-failed', String(e));
      assert.match(e.message, /no-such-program/);
      return true;
    });
    await assert.rejects(vm.agent.state('broken'), (e) => isBerthError(e, 'not-found'));
    config.process.args = ['/bin/sh', '-c', 'exit 0'];
    await writeFile(configPath, JSON.stringify(config));
    await vm.agent.run({ containerId: 'broken', bundle });
    assert.equal(await vm.agent.wait('broken', 20_000), 0);
    await vm.agent.delete('broken');
  });

  test('exec inside a running container, then kill it: its exit code says the signal', async () => {
    assert.ok(vm);
    const bundle = await writeBundle(shareDir, 'sleeper', 'echo up; exec sleep 600');
    await vm.agent.run({ containerId: 'sleeper', bundle, stdout: `${bundle}/stdout` });
    assert.equal(await vm.agent.wait('sleeper', 0), undefined);
    const r = await vm.agent.exec(['sh', '-c', 'echo in $(hostname) $FOO; ps -o pid,comm; exit 5'], {
      containerId: 'sleeper',
      env: ['FOO=bar baz'],
    });
    assert.equal(r.exitCode, 5);
    assert.match(r.stdout.toString(), /^in sleeper bar baz\n/);
    assert.match(r.stdout.toString(), /^\s*1 sleep$/m, 'the container has its own PID namespace in the guest');
    await vm.agent.kill('sleeper', 'KILL');
    assert.equal(await vm.agent.wait('sleeper', 20_000), 128 + 9);
    await vm.agent.kill('sleeper', 'KILL'); // a stopped container: nothing to do
    await vm.agent.delete('sleeper');
  });

  test('host processes are not visible from the guest', async () => {
    assert.ok(vm);
    const r = await vm.agent.exec(['ps', '-o', 'pid,comm']);
    assert.equal(r.exitCode, 0);
    const guestProcesses = r.stdout
      .toString()
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/));
    const guestPids = new Set(guestProcesses.map(([pid]) => Number(pid)));
    assert.equal(guestProcesses.find(([pid]) => pid === '1')?.[1], 'init');
    assert.ok(!guestPids.has(vm.pid), 'the QEMU pid is not a guest process');
    assert.ok(!guestProcesses.some(([, comm]) => comm === 'node' || comm?.startsWith('qemu')));
    const hostPids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).length;
    assert.ok(guestPids.size < hostPids || hostPids < 50, 'the guest lists its own processes, not the host ones');
  });

  test('the host disconnects and reconnects while the guest runs, and still gets answers', async () => {
    assert.ok(vm);
    const bundle = await writeBundle(shareDir, 'long', 'sleep 2; exit 7');
    await vm.agent.run({ containerId: 'long', bundle });
    // A wait in flight when the host goes away fails at once; the guest keeps the container.
    const pending = vm.agent.wait('long', 30_000);
    vm.agent.disconnect();
    await assert.rejects(pending, (e) => isBerthError(e, 'unavailable') && e.code === 'vm-agent-unavailable');
    assert.equal(vm.agent.connected, false);
    assert.equal((await vm.agent.ping()).protocol, 1); // reconnected by the request itself
    // Another client (a restarted daemon) on the same socket once the first one let go.
    vm.agent.disconnect();
    const other = new AgentClient(vm.paths.socketPath);
    try {
      assert.equal(await other.wait('long', 30_000), 7);
      assert.equal((await other.info()).kernelRelease.length > 0, true);
      await other.delete('long');
    } finally {
      other.disconnect();
    }
    const attached = await QemuVm.attach(vm.stateDir);
    assert.equal(attached?.pid, vm.pid);
    attached?.agent.disconnect();
  });

  test('shutdown powers the guest off and leaves no process, socket or file', async () => {
    assert.ok(vm);
    const { pid, paths, stateDir } = vm;
    assert.equal(await vm.shutdown(), 'powered-off');
    vm = undefined;
    // Gone, or a zombie that QEMU's parent (init, since QEMU daemonized) has yet to reap.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    assert.ok(stat === undefined || /^\d+ \(.*\) Z/.test(stat), `QEMU ${pid} still runs: ${stat}`);
    for (const f of [paths.pidFile, paths.socketPath, paths.consoleLog, stateDir]) assert.equal(existsSync(f), false, f);
    assert.equal(await QemuVm.attach(stateDir), undefined);
  });
});

describe('a VM that cannot boot', () => {
  test('a missing kernel: FAILED_PRECONDITION vm-guest-missing, nothing started', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    await assert.rejects(
      QemuVm.start({ stateDir, shareDir: dir.path, guest: { ...guest, kernel: join(dir.path, 'no-such-vmlinuz') }, accel: 'tcg' }),
      (e) => isBerthError(e, 'failed-precondition') && e.code === 'vm-guest-missing',
    );
    assert.equal(existsSync(stateDir), false);
  });

  test('a kernel file that is not a kernel: UNAVAILABLE vm-boot-failed with QEMU’s reason, nothing left', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    const kernel = join(dir.path, 'vmlinuz');
    await writeFile(kernel, 'not a kernel\n'.repeat(100));
    await assert.rejects(QemuVm.start({ stateDir, shareDir: dir.path, guest: { ...guest, kernel }, accel: 'tcg' }), (e) => {
      assert.ok(isBerthError(e, 'unavailable') && e.code === 'vm-boot-failed', String(e));
      assert.match(e.message, /kernel/i);
      return true;
    });
    assert.equal(existsSync(stateDir), false);
    await assertNoQemuOf(stateDir);
  });

  test('an initramfs that is not one: the guest kernel panics, QEMU exits, vm-boot-failed with the console', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    const initramfs = join(dir.path, 'initramfs.img');
    await writeFile(initramfs, 'not a cpio archive\n'.repeat(100));
    await assert.rejects(QemuVm.start({ stateDir, shareDir: dir.path, guest: { ...guest, initramfs }, accel: 'tcg' }), (e) => {
      assert.ok(isBerthError(e, 'unavailable') && e.code === 'vm-boot-failed', String(e));
      assert.match(e.message, /stopped before its agent answered[\s\S]*panic/i);
      return true;
    });
    assert.equal(existsSync(stateDir), false);
    await assertNoQemuOf(stateDir);
  });

  test('a boot that takes longer than its timeout: DEADLINE_EXCEEDED vm-boot-timeout, nothing left', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    await assert.rejects(
      QemuVm.start({ stateDir, shareDir: dir.path, guest, accel: 'tcg', bootTimeoutMs: 300 }),
      (e) => isBerthError(e, 'deadline-exceeded') && e.code === 'vm-boot-timeout',
    );
    assert.equal(existsSync(stateDir), false);
    await assertNoQemuOf(stateDir);
  });

  test('a start cancelled early (while QEMU daemonizes or before): CANCELLED, nothing left', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    const abort = new AbortController();
    const started = QemuVm.start({ stateDir, shareDir: dir.path, guest, accel: 'tcg', signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(started, (e) => isBerthError(e, 'cancelled'));
    assert.equal(existsSync(stateDir), false);
    await assertNoQemuOf(stateDir);
  });

  test('no QEMU binary: FAILED_PRECONDITION vm-qemu-missing, nothing left', async () => {
    await using dir = await makeTempDir('berth-vm-');
    const stateDir = join(dir.path, 'vm');
    await assert.rejects(
      QemuVm.start({ stateDir, shareDir: dir.path, guest, accel: 'tcg', qemuBinary: join(dir.path, 'no-qemu') }),
      (e) => isBerthError(e, 'failed-precondition') && e.code === 'vm-qemu-missing',
    );
    assert.equal(existsSync(stateDir), false);
  });
});

/** No process on the host names `stateDir` in its command line (a QEMU of that VM). */
async function assertNoQemuOf(stateDir: string): Promise<void> {
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    assert.ok(!cmdline.includes(stateDir), `QEMU ${pid} of the failed VM still runs`);
  }
}
