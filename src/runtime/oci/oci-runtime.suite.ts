// The behaviour every OciRuntime must show, fakes included. Call from a *.test.ts file:
//   ociRuntimeSuite('ConmonRuntime (runc)', async () => ({ runtime, bundle, dispose }))
// The fixture builds bundles whose root filesystem has a POSIX shell and coreutils-style applets
// (sh, echo, sleep, yes, head, cat) on PATH.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { sleep } from '../../util/sleep.ts';
import type { OciRuntime } from './oci-runtime.ts';

export interface SuiteBundle {
  bundle: string;
  logPath: string;
}

export interface OciRuntimeFixture {
  runtime: OciRuntime;
  /** Writes a bundle for container `id` whose process is `args`. */
  bundle(id: string, args: string[]): Promise<SuiteBundle>;
  dispose(): Promise<void>;
}

/** Live host processes whose argv is exactly `args`. */
async function processesWithArgs(args: string[]): Promise<number[]> {
  const want = args.join('\0');
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replace(/\0$/, '');
      if (cmdline !== want) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function rejectsWithKind(p: Promise<unknown>, kind: string, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isBerthError(e), `${what}: expected a BerthError, got ${String(e)}`);
    assert.equal(e.kind, kind, `${what}: ${e.message}`);
    return true;
  });
}

export function ociRuntimeSuite(name: string, make: () => Promise<OciRuntimeFixture>): void {
  const newId = (): string => `t${randomBytes(5).toString('hex')}`;
  const withRuntime = (body: (f: OciRuntimeFixture, cleanup: (id: string) => void) => Promise<void>) => async () => {
    const f = await make();
    const created: string[] = [];
    try {
      await body(f, (id) => created.push(id));
    } finally {
      for (const id of created) await f.runtime.delete(id, { force: true }).catch(() => {});
      await f.dispose();
    }
  };
  /** Creates and starts a container running `args`. */
  const run = async (f: OciRuntimeFixture, track: (id: string) => void, args: string[], start = true) => {
    const id = newId();
    const b = await f.bundle(id, args);
    track(id);
    const created = await f.runtime.create({ id, bundle: b.bundle, logPath: b.logPath });
    if (start) await f.runtime.start(id);
    return { id, ...b, ...created };
  };

  describe(`OciRuntime contract: ${name}`, () => {
    test(
      'a container writes CRI log lines and its exit code is recorded',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sh', '-c', 'echo hello; echo err >&2; exit 3']);
        assert.ok(c.pid > 0);
        const exit = await f.runtime.waitExit(c.id);
        assert.equal(exit.exitCode, 3);
        assert.equal(exit.reason, 'exited');
        assert.equal(exit.oomKilled, false);
        assert.ok(Math.abs(exit.exitedAt - Date.now()) < 60_000);
        assert.deepEqual(await f.runtime.readExit(c.id), exit);
        assert.equal((await f.runtime.state(c.id)).status, 'stopped');
        const lines = (await readFile(c.logPath, 'utf8')).trimEnd().split('\n');
        const time = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`;
        assert.ok(
          lines.some((l) => new RegExp(`^${time} stdout F hello$`).test(l)),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) => new RegExp(`^${time} stderr F err$`).test(l)),
          lines.join('\n'),
        );
      }),
    );

    test(
      'a failing create reports the runtime error, leaves nothing, and the ID can be reused',
      withRuntime(async (f, track) => {
        const id = newId();
        track(id);
        const bad = await f.bundle(id, ['/no/such/binary']);
        await assert.rejects(f.runtime.create({ id, bundle: bad.bundle, logPath: bad.logPath }), (e: unknown) => {
          assert.ok(isBerthError(e));
          assert.match(e.message, /\/no\/such\/binary/);
          assert.match(e.message, /no such file|not found/i);
          return true;
        });
        await rejectsWithKind(f.runtime.state(id), 'not-found', 'state after failed create');
        await rejectsWithKind(f.runtime.readExit(id), 'not-found', 'readExit after failed create');
        await assert.rejects(readFile(bad.logPath), { code: 'ENOENT' }, 'the log file of the failed create is gone');
        const good = await f.bundle(id, ['true']);
        await f.runtime.create({ id, bundle: good.bundle, logPath: good.logPath });
        await f.runtime.start(id);
        assert.equal((await f.runtime.waitExit(id)).exitCode, 0);
      }),
    );

    test(
      'a taken ID is already-exists; unknown IDs are not-found; deleting an unknown ID is fine',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '30'], false);
        await rejectsWithKind(f.runtime.create({ id: c.id, bundle: c.bundle, logPath: c.logPath }), 'already-exists', 'second create');
        assert.equal((await f.runtime.state(c.id)).status, 'created');
        const ghost = newId();
        await rejectsWithKind(f.runtime.start(ghost), 'not-found', 'start');
        await rejectsWithKind(f.runtime.kill(ghost, 'SIGTERM'), 'not-found', 'kill');
        await rejectsWithKind(f.runtime.state(ghost), 'not-found', 'state');
        await rejectsWithKind(f.runtime.readExit(ghost), 'not-found', 'readExit');
        await rejectsWithKind(f.runtime.stop(ghost, 1), 'not-found', 'stop');
        await rejectsWithKind(f.runtime.execSync(ghost, { cmd: ['true'], timeoutMs: 1000 }), 'not-found', 'execSync');
        await f.runtime.delete(ghost);
        await rejectsWithKind(f.runtime.create({ id: '../evil', bundle: c.bundle, logPath: c.logPath }), 'invalid-argument', 'bad id');
      }),
    );

    test(
      'stop: a process that handles SIGTERM exits at once; one that ignores it is killed after the grace period',
      withRuntime(async (f, track) => {
        const polite = await run(f, track, ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 0.1; done"]);
        await sleep(300); // let the shell install its trap
        let t = performance.now();
        const politeExit = await f.runtime.stop(polite.id, 10);
        assert.equal(politeExit.exitCode, 0);
        assert.ok(performance.now() - t < 5000, `polite stop took ${performance.now() - t} ms`);

        const stubborn = await run(f, track, ['sh', '-c', "trap '' TERM; while true; do sleep 0.1; done"]);
        await sleep(300);
        t = performance.now();
        const exit = await f.runtime.stop(stubborn.id, 2);
        const took = performance.now() - t;
        assert.equal(exit.exitCode, 137, 'SIGKILL');
        assert.ok(took >= 1900 && took < 7000, `stop took ${took} ms for a 2 s grace period`);
        assert.equal((await f.runtime.state(stubborn.id)).status, 'stopped');
        // Stopping again answers with the same exit.
        assert.equal((await f.runtime.stop(stubborn.id, 2)).exitCode, 137);
      }),
    );

    test(
      'execSync: output, exit code, environment; a stopped container refuses',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        const hi = await f.runtime.execSync(c.id, { cmd: ['echo', 'hi'], timeoutMs: 10_000 });
        assert.equal(hi.stdout.toString(), 'hi\n');
        assert.equal(hi.stderr.toString(), '');
        assert.equal(hi.exitCode, 0);
        assert.equal(hi.timedOut, false);
        const mixed = await f.runtime.execSync(c.id, {
          cmd: ['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 7'],
          env: ['GREETING=hello there'],
          timeoutMs: 10_000,
        });
        assert.equal(mixed.stdout.toString(), 'hello there\n');
        assert.equal(mixed.stderr.toString(), 'oops\n');
        assert.equal(mixed.exitCode, 7);
        await assert.rejects(f.runtime.execSync(c.id, { cmd: ['/no/such/tool'], timeoutMs: 10_000 }), (e: unknown) => {
          assert.ok(isBerthError(e), String(e));
          assert.match(e.message, /\/no\/such\/tool/);
          return true;
        });
        await f.runtime.stop(c.id, 0);
        await rejectsWithKind(f.runtime.execSync(c.id, { cmd: ['true'], timeoutMs: 1000 }), 'failed-precondition', 'exec in stopped');
      }),
    );

    test(
      'execSync timeout: the command and its children are killed, nothing lingers',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        const marker = `${100 + Math.floor(Math.random() * 800)}`;
        const t = performance.now();
        const r = await f.runtime.execSync(c.id, { cmd: ['sh', '-c', `sleep ${marker}; echo never`], timeoutMs: 1000 });
        const took = performance.now() - t;
        assert.equal(r.timedOut, true);
        assert.equal(r.exitCode, -1);
        assert.ok(took >= 950 && took < 4000, `timed out after ${took} ms`);
        assert.doesNotMatch(r.stdout.toString(), /never/);
        assert.deepEqual(await processesWithArgs(['sleep', marker]), [], 'the exec’d sleep is gone');
        assert.deepEqual(await processesWithArgs(['sh', '-c', `sleep ${marker}; echo never`]), [], 'its shell is gone');
        // The container itself is untouched.
        assert.equal((await f.runtime.state(c.id)).status, 'running');
      }),
    );

    test(
      'execSync: a background child neither holds the call nor outlives it, and the output is kept',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        const marker = `${1000 + Math.floor(Math.random() * 8000)}`;
        const r = await f.runtime.execSync(c.id, { cmd: ['sh', '-c', `sleep ${marker} & echo hi`], timeoutMs: 0 });
        assert.equal(r.exitCode, 0);
        assert.equal(r.timedOut, false);
        assert.equal(r.stdout.toString(), 'hi\n');
        assert.deepEqual(await processesWithArgs(['sleep', marker]), [], 'the background sleep is gone');
        const t = await f.runtime.execSync(c.id, { cmd: ['sh', '-c', `sleep ${marker} & echo hi; sleep ${marker}`], timeoutMs: 1000 });
        assert.equal(t.timedOut, true);
        assert.equal(t.stdout.toString(), 'hi\n', 'the output before the timeout is kept');
        assert.deepEqual(await processesWithArgs(['sleep', marker]), [], 'both sleeps are gone');
        assert.equal((await f.runtime.state(c.id)).status, 'running');
      }),
    );

    test(
      'execSync output is bounded',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        const r = await f.runtime.execSync(c.id, {
          cmd: ['sh', '-c', 'yes | head -c 100000; yes e | head -c 5000 >&2'],
          timeoutMs: 10_000,
          maxOutputBytes: 1000,
        });
        assert.equal(r.exitCode, 0);
        assert.equal(r.stdout.length, 1000);
        assert.equal(r.stdout.toString(), 'y\n'.repeat(500));
        assert.equal(r.stderr.length, 1000);
        assert.deepEqual(r.truncated, { stdout: true, stderr: true });
        const small = await f.runtime.execSync(c.id, { cmd: ['echo', 'x'], timeoutMs: 10_000, maxOutputBytes: 1000 });
        assert.deepEqual(small.truncated, { stdout: false, stderr: false });
      }),
    );

    test(
      'kill, delete: a running container is not deleted without force',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        await rejectsWithKind(f.runtime.delete(c.id), 'failed-precondition', 'delete running');
        await f.runtime.kill(c.id, 'SIGKILL');
        assert.equal((await f.runtime.waitExit(c.id)).exitCode, 137);
        await rejectsWithKind(f.runtime.kill(c.id, 'SIGKILL'), 'failed-precondition', 'kill stopped');
        await f.runtime.delete(c.id);
        await rejectsWithKind(f.runtime.state(c.id), 'not-found', 'state after delete');
        await rejectsWithKind(f.runtime.readExit(c.id), 'not-found', 'readExit after delete');
        const d = await run(f, track, ['sleep', '60']);
        await f.runtime.delete(d.id, { force: true });
        await rejectsWithKind(f.runtime.state(d.id), 'not-found', 'state after forced delete');
        await f.runtime.delete(d.id, { force: true });
      }),
    );

    test(
      'waitExit gives up when its signal fires',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        const t = performance.now();
        await rejectsWithKind(f.runtime.waitExit(c.id, AbortSignal.timeout(300)), 'deadline-exceeded', 'waitExit with timeout');
        assert.ok(performance.now() - t < 2000);
        const ac = new AbortController();
        const p = f.runtime.waitExit(c.id, ac.signal);
        ac.abort();
        await rejectsWithKind(p, 'cancelled', 'waitExit aborted');
        assert.equal(await f.runtime.readExit(c.id), undefined);
      }),
    );

    test(
      'update changes the resources of a running container',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sleep', '60']);
        await f.runtime.update(c.id, { memory: { limit: 64 * 1024 * 1024 }, cpu: { shares: 512 } });
        await rejectsWithKind(f.runtime.update(newId(), { cpu: { shares: 512 } }), 'not-found', 'update unknown');
      }),
    );

    test(
      'reopenLog: after the log was moved away, new output goes to a new file',
      withRuntime(async (f, track) => {
        const c = await run(f, track, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done']);
        await sleep(400);
        await rename(c.logPath, `${c.logPath}.1`);
        await f.runtime.reopenLog(c.id);
        await sleep(400);
        const fresh = await readFile(c.logPath, 'utf8');
        assert.match(fresh, / stdout F tick \d+\n/);
        const old = await readFile(`${c.logPath}.1`, 'utf8');
        const last = (text: string) => Number(/tick (\d+)\n$/.exec(text)?.[1]);
        const first = Number(/tick (\d+)/.exec(fresh)?.[1]);
        assert.ok(first > last(old), `new file continues after the old one (${first} > ${last(old)})`);
        await f.runtime.stop(c.id, 0);
        await rejectsWithKind(f.runtime.reopenLog(c.id), 'failed-precondition', 'reopen without monitor');
      }),
    );
  });
}
