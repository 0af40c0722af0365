// ConmonRuntime against the real conmon and runc, as root: the OciRuntime contract, then what only
// a conmon-backed runtime promises (monitors that outlive the daemon, recovery from the state
// directory, nothing left after delete, OOM, cgroup stats).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, lstat, mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { isBerthError } from '../../src/errors/errors.ts';
import { type CgroupLayout, detectCgroupLayout } from '../../src/runtime/cgroups/cgroup-layout.ts';
import { cgroupExists, removeCgroup } from '../../src/runtime/cgroups/cgroup-remove.ts';
import { readCgroupStats } from '../../src/runtime/cgroups/cgroup-stats.ts';
import { ConmonRuntime } from '../../src/runtime/oci/conmon-runtime.ts';
import { ociRuntimeSuite } from '../../src/runtime/oci/oci-runtime.suite.ts';
import { isProcessAlive } from '../../src/runtime/oci/proc.ts';
import { missingFixes, readRuncVersion } from '../../src/runtime/oci/runtime-version.ts';
import { waitFor } from '../agent/support/wait-for.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { BUSYBOX, findBinary, makeBusyboxRootfs, minimalConfig, writeBundle } from './support/busybox-bundle.ts';

const run = promisify(execFile);
const CGROUP_PARENT = '/berth-test';

const runc = await findBinary('runc');
const conmon = await findBinary('conmon');
const hasBusybox = await access(BUSYBOX).then(
  () => true,
  () => false,
);
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !runc || !conmon || !hasBusybox
      ? 'needs runc, conmon and busybox-static (scripts/install-test-deps-runtime.sh)'
      : undefined;

/** One temp dir per file with the shared busybox rootfs. */
let shared: TempDir | undefined;
let rootfs = '';

async function sharedRootfs(): Promise<string> {
  if (!shared) {
    shared = await makeTempDir('berth-runtime-');
    rootfs = await makeBusyboxRootfs(shared.path);
  }
  return rootfs;
}

interface Env {
  dir: TempDir;
  stateDir: string;
  runtimeRoot: string;
  runtime(): ConmonRuntime;
  bundle(id: string, args: string[], memoryLimit?: number): Promise<{ bundle: string; logPath: string; cgroupsPath: string }>;
  dispose(): Promise<void>;
}

async function makeEnv(stateName: (dir: string) => string = () => 'state'): Promise<Env> {
  const root = await sharedRootfs();
  const dir = await makeTempDir('berth-conmon-');
  const stateDir = path.join(dir.path, stateName(dir.path));
  const runtimeRoot = path.join(dir.path, 'runc');
  const runtime = (): ConmonRuntime => new ConmonRuntime({ runtimePath: runc!, runtimeRoot, conmonPath: conmon!, stateDir });
  return {
    dir,
    stateDir,
    runtimeRoot,
    runtime,
    async bundle(id, args, memoryLimit) {
      const cgroupsPath = `${CGROUP_PARENT}/${id}`;
      const bundle = await writeBundle(path.join(dir.path, 'bundles', id), minimalConfig({ rootfs: root, args, cgroupsPath, memoryLimit }));
      return { bundle, logPath: path.join(dir.path, 'logs', `${id}.log`), cgroupsPath };
    },
    async dispose() {
      // Whatever a failed test left: containers in this runtime root.
      const cleaner = runtime();
      for (const id of await readdir(runtimeRoot).catch(() => [] as string[])) {
        await cleaner.delete(id, { force: true }).catch(() => run(runc!, ['--root', runtimeRoot, 'delete', '--force', id]).catch(() => {}));
      }
      await dir.remove();
    },
  };
}

after(async () => {
  await shared?.remove();
  // The parent of the test cgroups goes when no other test uses it any more.
  const layout = await detectCgroupLayout().catch(() => undefined);
  if (layout) await removeCgroup(layout, CGROUP_PARENT).catch(() => {});
});

if (skip) {
  test('ConmonRuntime with runc: prerequisites', () => assert.fail(`prerequisites missing: ${skip}`));
} else {
  ociRuntimeSuite('ConmonRuntime with runc', async () => {
    const env = await makeEnv();
    return { runtime: env.runtime(), bundle: (id, args) => env.bundle(id, args), dispose: () => env.dispose() };
  });

  describe('ConmonRuntime with runc and conmon', () => {
    let env: Env;
    let cgroups: CgroupLayout;
    const newId = (): string => `c${randomBytes(5).toString('hex')}`;

    before(async () => {
      env = await makeEnv();
      cgroups = await detectCgroupLayout();
    });
    after(async () => {
      await env.dispose();
    });

    const runtimeOptions = () => ({ runtimePath: runc!, runtimeRoot: env.runtimeRoot, conmonPath: conmon!, stateDir: env.stateDir });

    /** Runs `body` (with ConmonRuntime in scope) in a separate Node process: a daemon that can be SIGKILLed. */
    async function runDaemon(body: string): Promise<{ pid: number; signal: string | null; stdout: string }> {
      const modulePath = path.resolve(import.meta.dirname, '../../src/runtime/oci/conmon-runtime.ts');
      const script = `const { ConmonRuntime } = await import(${JSON.stringify(modulePath)});\n${body}`;
      const daemon = spawn(process.execPath, ['--input-type=module', '--disable-warning=ExperimentalWarning', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      daemon.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      const signal = await new Promise<string | null>((resolve) => daemon.once('close', (_code, sig) => resolve(sig)));
      return { pid: daemon.pid!, signal, stdout };
    }

    /** Files of container `id` anywhere in the state dir. */
    async function filesOf(id: string): Promise<string[]> {
      const found: string[] = [];
      for (const sub of ['containers', 'exits', 'attach']) {
        for (const name of await readdir(path.join(env.stateDir, sub)).catch(() => [] as string[])) {
          if (name.includes(id)) found.push(path.join(sub, name));
        }
      }
      return found;
    }

    test('conmon outlives the process that started it (a daemon killed with SIGKILL)', async () => {
      const id = newId();
      const b = await env.bundle(id, ['sleep', '60']);
      // A separate "daemon" creates and starts the container, prints the pids and kills itself.
      const daemon = await runDaemon(
        `const rt = new ConmonRuntime(${JSON.stringify(runtimeOptions())});
         const r = await rt.create(${JSON.stringify({ id, bundle: b.bundle, logPath: b.logPath })});
         await rt.start(${JSON.stringify(id)});
         process.stdout.write(JSON.stringify(r) + '\\n', () => process.kill(process.pid, 'SIGKILL'));`,
      );
      assert.equal(daemon.signal, 'SIGKILL');
      const created = JSON.parse(daemon.stdout) as { pid: number; conmonPid: number };
      // The daemon is dead and reaped: whatever its death did to its children has happened.
      assert.ok(await isProcessAlive(created.conmonPid), 'conmon lives on');
      assert.ok(await isProcessAlive(created.pid), 'the container lives on');
      const ppid = Number((await readFile(`/proc/${created.conmonPid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[1]);
      assert.notEqual(ppid, daemon.pid, 'conmon is not a child of the dead daemon');

      // A new daemon finds it running.
      const rt = env.runtime();
      const { containers } = await rt.recover();
      const found = containers.find((c) => c.id === id);
      assert.equal(found?.status, 'running');
      assert.equal(found?.pid, created.pid);
      assert.equal(found?.conmonPid, created.conmonPid);
      const exit = await rt.stop(id, 1);
      assert.equal(exit.exitCode, 137);
      await rt.delete(id);
    });

    test('recover: running, exited while nobody watched, and monitor lost (conmon SIGKILLed) → 255', async () => {
      const first = env.runtime();
      const running = newId();
      const quick = newId();
      const orphan = newId();
      for (const [id, args] of [
        [running, ['sleep', '60']],
        [quick, ['sh', '-c', 'sleep 0.2; exit 5']],
        [orphan, ['sleep', '60']],
      ] as const) {
        const b = await env.bundle(id, [...args]);
        await first.create({ id, bundle: b.bundle, logPath: b.logPath });
        await first.start(id);
      }
      const orphanState = await first.state(orphan);
      const orphanConmon = JSON.parse(await readFile(path.join(env.stateDir, 'containers', orphan, 'meta.json'), 'utf8')) as {
        conmonPid: number;
      };
      process.kill(orphanConmon.conmonPid, 'SIGKILL');
      await first.waitExit(quick, AbortSignal.timeout(60_000));
      await waitFor('the orphan’s conmon to be gone', async () => ((await isProcessAlive(orphanConmon.conmonPid)) ? undefined : true));

      // All in-memory state is gone: a new instance.
      const second = env.runtime();
      const { containers } = await second.recover();
      const byId = new Map(containers.map((c) => [c.id, c]));
      assert.equal(byId.get(running)?.status, 'running');
      assert.equal(byId.get(quick)?.status, 'stopped');
      assert.equal(byId.get(quick)?.exit?.exitCode, 5);
      assert.equal(byId.get(quick)?.exit?.reason, 'exited');
      assert.equal(byId.get(orphan)?.status, 'stopped');
      assert.equal(byId.get(orphan)?.exit?.exitCode, 255);
      assert.equal(byId.get(orphan)?.exit?.reason, 'monitor-lost');
      await waitFor('the container without a monitor to be killed', async () =>
        (await isProcessAlive(orphanState.pid)) ? undefined : true,
      );
      // The answer stays the same afterwards, from a third instance too.
      assert.equal((await env.runtime().readExit(orphan))?.exitCode, 255);

      for (const id of [running, quick, orphan]) await second.delete(id, { force: true });
      for (const id of [running, quick, orphan]) assert.deepEqual(await filesOf(id), []);
    });

    test('conmon shortens the attach link of a socket path one byte too long: kept while the container lives, removed with it', async () => {
      // conmon drops the ID's last character when <attach dir>/<ID> is exactly 107 bytes long.
      const long = await makeEnv((dir) => 's'.repeat(107 - 65 - `${dir}//attach`.length));
      try {
        const id = randomBytes(32).toString('hex');
        const b = await long.bundle(id, ['sleep', '60']);
        const rt = long.runtime();
        await rt.recover();
        await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
        await rt.start(id);
        const attachDir = path.join(long.stateDir, 'attach');
        const names = await readdir(attachDir);
        assert.equal(names.length, 1);
        assert.ok(names[0] !== id && id.startsWith(names[0]!), `conmon named the link after a prefix of the ID: ${names[0]}`);
        await long.runtime().recover(); // a restarted daemon keeps it
        assert.deepEqual(await readdir(attachDir), names);
        await rt.delete(id, { force: true });
        assert.deepEqual(await readdir(attachDir), [], 'no dangling attach link');
      } finally {
        await long.dispose();
      }
    });

    test('at start, a runc without the known escape fixes is named in a warning, or refused', async () => {
      const version = await readRuncVersion(runc!);
      assert.ok(version?.version !== undefined, 'runc --version names a version');
      const missing = missingFixes(version);
      const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
      const logger = pino(
        { level: 'warn' },
        new Writable({
          write: (chunk, _enc, done) => {
            const line = JSON.parse(String(chunk)) as Record<string, unknown>;
            warnings.push({ obj: line, msg: String(line['msg']) });
            done();
          },
        }),
      );
      await new ConmonRuntime({ ...runtimeOptions(), logger }).recover();
      const named = warnings.filter((w) => /lacks the fixes of/.test(w.msg));
      assert.equal(named.length, missing.length === 0 ? 0 : 1);
      for (const cve of missing) assert.match(named[0]!.msg, new RegExp(cve));
      const refusing = new ConmonRuntime({ ...runtimeOptions(), vulnerableRuntime: 'refuse' });
      if (missing.length === 0) await refusing.recover();
      else
        await assert.rejects(refusing.recover(), (e: unknown) => isBerthError(e, 'failed-precondition') && e.code === 'runtime-vulnerable');
    });

    test('recover removes a container whose create never finished', async () => {
      const rt = env.runtime();
      await rt.recover();
      const id = newId();
      const b = await env.bundle(id, ['true']);
      await mkdir(path.join(env.stateDir, 'containers', id));
      await symlink(b.bundle, path.join(env.stateDir, 'attach', id));
      const { discarded } = await env.runtime().recover();
      assert.deepEqual(discarded, [id]);
      assert.deepEqual(await filesOf(id), []);
    });

    test('a daemon killed in the middle of create: recover removes what it left', async () => {
      // Each kill lands at a stage of create seen on disk, never after its record (meta.json) is
      // written: a timed kill can come after create finished on a fast machine, and then there is
      // nothing left half-made to test.
      const stages = {
        'its directory is made': (id: string) => path.join(env.stateDir, 'containers', id),
        'runc has begun to create it': (id: string) => path.join(env.runtimeRoot, id),
        'conmon wrote its pid file': (id: string) => path.join(env.stateDir, 'containers', id, 'conmon.pid'),
      };
      for (const [stage, marker] of Object.entries(stages)) {
        const id = newId();
        const b = await env.bundle(id, ['sleep', '60']);
        const code = await runDaemon(
          `const { existsSync } = await import('node:fs');
           const rt = new ConmonRuntime(${JSON.stringify(runtimeOptions())});
           // Checked on every turn of the event loop, so between any two steps of create.
           const watch = () => (existsSync(${JSON.stringify(marker(id))}) ? process.kill(process.pid, 'SIGKILL') : setImmediate(watch));
           watch();
           await rt.create(${JSON.stringify({ id, bundle: b.bundle, logPath: b.logPath })});
           process.stdout.write('create finished');`,
        );
        assert.equal(code.signal, 'SIGKILL', `killed once ${stage}`);
        assert.equal(code.stdout, '');
        const { containers, discarded } = await env.runtime().recover();
        assert.ok(!containers.some((c) => c.id === id));
        assert.deepEqual(discarded, [id], `killed once ${stage}`);
        assert.deepEqual(await filesOf(id), []);
        await assert.rejects(run(runc!, ['--root', env.runtimeRoot, 'state', id]));
        assert.equal(await cgroupExists(cgroups, b.cgroupsPath), false, `cgroup of ${id}, killed once ${stage}`);
        assert.deepEqual((await readdir(b.bundle)).sort(), ['config.json']);
      }
    });

    test('an aborted create leaves nothing behind', async () => {
      const rt = env.runtime();
      for (const ms of [1, 5, 10, 15, 20, 25, 30, 40, 60]) {
        const id = newId();
        const b = await env.bundle(id, ['sleep', '60']);
        try {
          await rt.create({ id, bundle: b.bundle, logPath: b.logPath }, AbortSignal.timeout(ms));
          await rt.delete(id, { force: true }); // it was faster than the timeout
        } catch (e) {
          assert.ok(isBerthError(e, 'deadline-exceeded'), String(e));
        }
        assert.deepEqual(await filesOf(id), []);
        await assert.rejects(rt.state(id), (e: unknown) => isBerthError(e, 'not-found'));
        assert.equal(await cgroupExists(cgroups, b.cgroupsPath), false);
        assert.deepEqual((await readdir(b.bundle)).sort(), ['config.json']);
      }
    });

    test('delete leaves no conmon, no runtime state, no cgroup and no files', async () => {
      const rt = env.runtime();
      const id = newId();
      const b = await env.bundle(id, ['sleep', '60']);
      const created = await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
      await rt.start(id);
      assert.ok(await cgroupExists(cgroups, b.cgroupsPath));
      assert.ok((await filesOf(id)).length > 0);
      await rt.stop(id, 0);
      await rt.delete(id);
      assert.equal(await isProcessAlive(created.conmonPid), false, 'conmon is gone');
      assert.equal(await isProcessAlive(created.pid), false, 'the container is gone');
      await assert.rejects(run(runc!, ['--root', env.runtimeRoot, 'state', id]));
      assert.equal(await cgroupExists(cgroups, b.cgroupsPath), false, 'no cgroup dir');
      assert.deepEqual(await filesOf(id), []);
      assert.deepEqual((await readdir(b.bundle)).sort(), ['config.json'], 'conmon’s fifos and socket are gone from the bundle');
      await lstat(b.logPath); // the CRI log belongs to the caller and stays
    });

    test('cgroup stats of a running container, and update changes its limit', async () => {
      const rt = env.runtime();
      const id = newId();
      const b = await env.bundle(id, ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60']);
      await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
      await rt.start(id);
      const stats = await waitFor('the busy loop to show in the cgroup', async () => {
        const s = await readCgroupStats(cgroups, b.cgroupsPath);
        return s.cpu.usageNs > 0 && s.memory.usageBytes > 0 ? s : undefined;
      });
      assert.ok(stats.cpu.usageNs > 0, `cpu ${stats.cpu.usageNs}`);
      assert.ok(stats.memory.usageBytes > 0, `memory ${stats.memory.usageBytes}`);
      assert.ok(stats.memory.workingSetBytes > 0 && stats.memory.workingSetBytes <= stats.memory.usageBytes);
      assert.equal(stats.memory.limitBytes, undefined, 'no limit set');
      assert.ok((stats.pids?.current ?? 0) >= 1);
      await rt.update(id, { memory: { limit: 48 * 1024 * 1024 } });
      const limited = await readCgroupStats(cgroups, b.cgroupsPath);
      assert.equal(limited.memory.limitBytes, 48 * 1024 * 1024);
      assert.ok(limited.memory.availableBytes! > 0);
      await rt.stop(id, 0);
      await rt.delete(id);
      await assert.rejects(readCgroupStats(cgroups, b.cgroupsPath), (e: unknown) => isBerthError(e, 'not-found'));
    });

    test('an OOM kill is reported', async () => {
      const rt = env.runtime();
      const id = newId();
      const b = await env.bundle(id, ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'], 16 * 1024 * 1024);
      await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
      await rt.start(id);
      const exit = await rt.waitExit(id, AbortSignal.timeout(30_000));
      assert.equal(exit.exitCode, 137);
      assert.equal(exit.oomKilled, true);
      await rt.delete(id);
    });

    test('ten create + start + exit + delete cycles in a row: each exits 0, each monitor goes, nothing is left', async () => {
      const rt = env.runtime();
      for (let i = 0; i < 10; i++) {
        const id = newId();
        const b = await env.bundle(id, ['true']);
        const created = await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
        await rt.start(id);
        assert.equal((await rt.waitExit(id, AbortSignal.timeout(60_000))).exitCode, 0);
        await rt.delete(id);
        assert.equal(await isProcessAlive(created.conmonPid), false, 'its conmon is gone');
        assert.deepEqual(await filesOf(id), []);
        assert.equal(await cgroupExists(cgroups, b.cgroupsPath), false);
      }
    });

    test('leftover cgroups are removed; a busy one is refused', async () => {
      const parent = `${CGROUP_PARENT}/leftover-${randomBytes(3).toString('hex')}`;
      for (const dir of [...cgroups.v1.values()].slice(0, 2)) await mkdir(path.join(dir, parent, 'child'), { recursive: true });
      assert.ok(await cgroupExists(cgroups, parent));
      await removeCgroup(cgroups, parent);
      assert.equal(await cgroupExists(cgroups, parent), false);
      await removeCgroup(cgroups, parent); // idempotent

      const rt = env.runtime();
      const id = newId();
      const b = await env.bundle(id, ['sleep', '60']);
      await rt.create({ id, bundle: b.bundle, logPath: b.logPath });
      await rt.start(id);
      await assert.rejects(removeCgroup(cgroups, b.cgroupsPath), (e: unknown) => isBerthError(e, 'failed-precondition'));
      await rt.stop(id, 0);
      await rt.delete(id);
      assert.equal(await cgroupExists(cgroups, b.cgroupsPath), false);
    });
  });
}
