// ExecSync: `<runtime> exec --process <spec>` with the output collected up to a bound and a
// timeout that kills the command together with every process it started in the container.
//
// The runtime is run directly rather than under a second conmon (CRI-O's way): the daemon needs the
// output only while it waits anyway, a timer in milliseconds beats conmon's whole seconds, and
// killing is ours to do well. The exec'd process is a session leader inside the container (runc
// calls setsid); on timeout its tree is frozen with SIGSTOP top-down, then SIGKILLed, so no child
// escapes by forking or being re-parented to the container's init. When it exits by itself, what
// it left in the background (its session: `sh -c 'sleep 1000 & echo hi'`) is killed too, as
// `runc exec` would wait for it otherwise; the output read until then is kept.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { toBerthError } from '../../errors/errors.ts';
import type { Process } from '../../oci/runtime-spec.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import type { ExecSyncOptions, ExecSyncResult } from './oci-runtime.ts';
import { isProcessAlive, killProcessTree, killSession, readProcStat } from './proc.ts';

/** How long the runtime gets to reap a killed exec process before it is killed itself. */
const REAP_WAIT_MS = 2000;

import { BoundedBuffer } from './run-command.ts';
import { classifyRuntimeError, type RuntimeCli, runtimeErrorMessage } from './runtime-cli.ts';
import { readIntFile } from './state-layout.ts';

/** CRI-O bounds ExecSync output to 16 MiB. */
export const DEFAULT_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024;
/** After the runtime exited, how long to wait for the output pipes to drain before closing them. */
const DRAIN_MS = 200;
/** How often to look whether the exec'd process has exited while the runtime still waits. */
const WATCH_MS = 100;

/** The container's process with `cmd` as argv, `env` merged over its environment, no terminal. */
export function execProcessSpec(base: Process, cmd: string[], env: string[] = []): Process {
  const merged = new Map<string, string>();
  for (const entry of [...(base.env ?? []), ...env]) {
    const eq = entry.indexOf('=');
    merged.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  }
  const spec: Process = { ...base, args: cmd, env: [...merged.values()], terminal: false };
  delete spec.consoleSize;
  return spec;
}

export interface ExecSyncContext {
  runtime: RuntimeCli;
  id: string;
  /** The container's own process spec (config.json `process`). */
  process: Process;
  /** A directory for the process spec, pid file and runtime log of this exec. */
  workDir: string;
}

export async function execSync(ctx: ExecSyncContext, options: ExecSyncOptions, signal?: AbortSignal): Promise<ExecSyncResult> {
  if (signal?.aborted) throw toBerthError(signal.reason);
  const tag = `exec-${randomBytes(6).toString('hex')}`;
  const specFile = path.join(ctx.workDir, `${tag}.json`);
  const pidFile = path.join(ctx.workDir, `${tag}.pid`);
  const logFile = path.join(ctx.workDir, `${tag}.log`);
  const limit = options.maxOutputBytes ?? DEFAULT_EXEC_OUTPUT_BYTES;
  try {
    await writeFileAtomic(specFile, JSON.stringify(execProcessSpec(ctx.process, options.cmd, options.env)), 0o600);
    const argv = [
      ...ctx.runtime.globalArgs(),
      '--log',
      logFile,
      '--log-format',
      'json',
      'exec',
      '--process',
      specFile,
      '--pid-file',
      pidFile,
      ctx.id,
    ];
    const child = spawn(ctx.runtime.path, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const stdout = new BoundedBuffer(limit);
    const stderr = new BoundedBuffer(limit);
    child.stdout!.on('data', (d: Buffer) => stdout.push(d));
    child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('exit', (code, sig) => resolve({ code, sig }));
      child.once('error', (error) => {
        if (child.pid === undefined) resolve({ code: null, sig: null, error });
      });
    });

    let interrupted: 'timeout' | 'abort' | undefined;
    let killing: Promise<void> | undefined;
    const killAll = async (): Promise<void> => {
      // The pid file appears once the process exists; until then only the runtime is there to kill.
      const pid = await readIntFile(pidFile).catch(() => undefined);
      if (pid !== undefined && pid > 0) {
        await killProcessTree(pid);
        await killSession(pid);
        // The runtime is the killed process's parent: let it reap it. Killed first, it would leave a
        // zombie to the container's init, which may never reap it.
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, REAP_WAIT_MS))]);
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const interrupt = (why: 'timeout' | 'abort'): void => {
      if (interrupted) return;
      interrupted = why;
      killing = killAll().catch(() => {});
    };
    const timer = options.timeoutMs > 0 ? setTimeout(() => interrupt('timeout'), options.timeoutMs) : undefined;
    const onAbort = (): void => interrupt('abort');
    signal?.addEventListener('abort', onAbort, { once: true });

    // Once the exec'd process is gone, end its session: background children hold the runtime.
    let done = false;
    let sessionLeader: number | undefined;
    // The watch's pause ends early once the process has exited: the call must not wait it out.
    let wake: (() => void) | undefined;
    const watch = (async () => {
      let startTime: string | undefined;
      while (!done) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, WATCH_MS);
        });
        if (done || interrupted) return;
        if (sessionLeader === undefined) {
          const pid = await readIntFile(pidFile).catch(() => undefined);
          const st = pid !== undefined && pid > 0 ? await readProcStat(pid) : undefined;
          if (pid === undefined || pid <= 0) continue;
          if (st !== undefined && st.session !== pid) continue; // not set up yet
          // Gone already (st undefined): the session id is the pid it had.
          sessionLeader = pid;
          startTime = st?.startTime;
        }
        if (!(await isProcessAlive(sessionLeader, startTime))) {
          await killSession(sessionLeader);
        }
      }
    })().catch(() => {});

    const exit = await exited;
    done = true;
    wake?.();
    await watch;
    if (sessionLeader !== undefined) await killSession(sessionLeader).catch(() => {});
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (exit.error) throw exit.error;
    if (killing) await killing;
    if (interrupted) {
      // The runtime was killed before the process existed? Then the pid file may appear late.
      const pid = await readIntFile(pidFile).catch(() => undefined);
      if (pid !== undefined && pid > 0) await killProcessTree(pid);
    }
    // Background children may hold the pipes open; give the output a moment, then stop reading.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, DRAIN_MS))]);
    child.stdout!.destroy();
    child.stderr!.destroy();

    if (interrupted === 'abort') throw toBerthError(signal!.reason);
    const truncated = { stdout: stdout.truncated, stderr: stderr.truncated };
    if (interrupted === 'timeout') {
      return { stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), exitCode: -1, timedOut: true, truncated };
    }
    // The runtime's own failure (no such container, no such executable) is in its log.
    const runtimeLog = await readFile(logFile, 'utf8').catch(() => '');
    const failure = runtimeErrorMessage(
      runtimeLog
        .split('\n')
        .filter((l) => /"level":"(error|fatal)"/.test(l))
        .join('\n'),
    );
    if (exit.code !== 0 && failure !== '') throw classifyRuntimeError('exec', ctx.id, failure, ctx.runtime.name);
    const exitCode = exit.code ?? (exit.sig ? 128 + (osConstants.signals[exit.sig] ?? 0) : -1);
    return { stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), exitCode, timedOut: false, truncated };
  } finally {
    await Promise.all([specFile, pidFile, logFile].map((f) => rm(f, { force: true })));
  }
}
