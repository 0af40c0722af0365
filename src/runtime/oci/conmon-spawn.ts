// Starts conmon and waits for the container's pid on its sync pipe, as CRI-O does: the pipe is
// fd 3 of conmon (named by _OCI_SYNCPIPE); conmon writes one JSON line, `{"data": <pid>}` once
// `<runtime> create` succeeded or `{"data": -1, "message": "<runtime's stderr>"}` when it failed.
// Without --sync conmon forks: the process we spawn exits at once (after writing its pid file) and
// its child, in a session of its own, lives on as the monitor, re-parented away from the daemon.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { BerthError, deadlineExceeded, internal, toBerthError } from '../../errors/errors.ts';
import { sleep } from '../../util/sleep.ts';
import { BoundedBuffer } from './run-command.ts';

export interface SpawnConmonOptions {
  conmonPath: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long `<runtime> create` may take. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SpawnConmonResult {
  /** The container's init pid as conmon reported it. */
  containerPid: number;
  /** ms from spawn until the first conmon process exited (the monitor is forked off). */
  forkMs: number;
  /** ms from spawn until the pid arrived (runc create done). */
  syncMs: number;
}

/** The sync pipe's message. `data` is the pid (create) or exit code (exec); negative on failure. */
export interface SyncMessage {
  data: number;
  message?: string;
}

export function parseSyncMessage(line: string): SyncMessage | undefined {
  try {
    const raw = JSON.parse(line) as { data?: unknown; pid?: unknown; message?: unknown };
    const data = typeof raw.data === 'number' ? raw.data : typeof raw.pid === 'number' ? raw.pid : undefined;
    if (data === undefined) return undefined;
    return { data, message: typeof raw.message === 'string' ? raw.message : undefined };
  } catch {
    return undefined;
  }
}

/** Thrown when conmon says the runtime's create failed; `fields.runtimeMessage` is the runtime's own words. */
export class ConmonCreateError extends BerthError {
  readonly runtimeMessage: string;
  constructor(runtimeMessage: string) {
    super('internal', 'runtime-create-failed', runtimeMessage);
    this.name = 'ConmonCreateError';
    this.runtimeMessage = runtimeMessage;
  }
}

/**
 * Spawns conmon and resolves with the container pid. Rejects with ConmonCreateError when the
 * runtime failed, a BerthError when conmon itself failed, timed out, or `signal` fired. The
 * caller kills what is left (conmon's pid file tells the monitor's pid).
 */
export async function spawnConmon(options: SpawnConmonOptions): Promise<SpawnConmonResult> {
  const { signal } = options;
  if (signal?.aborted) throw toBerthError(signal.reason);
  const started = performance.now();
  const child = spawn(options.conmonPath, options.args, {
    detached: true,
    cwd: options.cwd,
    env: { ...options.env, _OCI_SYNCPIPE: '3' },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const output = new BoundedBuffer(64 * 1024);
  child.stdout!.on('data', (d: Buffer) => output.push(d));
  child.stderr!.on('data', (d: Buffer) => output.push(d));
  const syncPipe = child.stdio[3] as Readable;
  syncPipe.on('error', () => {});

  let forkMs = Number.NaN;
  const firstExit = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, sig) => {
      forkMs = performance.now() - started;
      resolve({ code, sig });
    });
  });
  let syncMs = Number.NaN;
  const message = new Promise<SyncMessage | undefined>((resolve) => {
    let buffered = '';
    syncPipe.setEncoding('utf8');
    syncPipe.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        syncMs = performance.now() - started;
        resolve(parseSyncMessage(buffered.slice(0, nl)));
      }
    });
    syncPipe.on('close', () => resolve(buffered.trim() === '' ? undefined : parseSyncMessage(buffered.trim())));
  });

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(deadlineExceeded('runtime-create-timeout', `the runtime did not create the container within ${options.timeoutMs / 1000} s`)),
      options.timeoutMs,
    );
    onAbort = () => reject(toBerthError(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  interrupted.catch(() => {});
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (e) => {
      if (child.pid === undefined) reject(internal('conmon-spawn-failed', `cannot run ${options.conmonPath}: ${e.message}`, { cause: e }));
    });
  });
  spawnFailed.catch(() => {});

  try {
    const sync = await Promise.race([message, interrupted, spawnFailed]);
    if (sync === undefined) {
      const exit = await Promise.race([firstExit, interrupted]);
      const said = output.toBuffer().toString('utf8').trim();
      throw internal(
        'conmon-failed',
        `conmon exited (${exit.code ?? exit.sig}) without reporting the container's pid${said ? `: ${said}` : ''}`,
        { fields: { conmonOutput: said, exitCode: exit.code } },
      );
    }
    if (sync.data <= 0) throw new ConmonCreateError((sync.message ?? '').trim());
    // The first process exits right after forking; its pid file is written by then.
    await Promise.race([firstExit, interrupted]);
    return { containerPid: sync.data, forkMs, syncMs };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // On failure, let the first process finish: it only forks and writes conmon's pid file, which
    // the caller needs to find (and kill) the monitor it forked.
    if (child.exitCode === null && child.signalCode === null) {
      const gone = await Promise.race([firstExit.then(() => true), sleep(2000).then(() => false)]);
      if (!gone) child.kill('SIGKILL');
    }
    syncPipe.destroy();
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
  }
}
