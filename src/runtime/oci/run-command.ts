// Runs a short-lived helper process (the OCI runtime's CLI) to completion: stdin from a buffer,
// stdout and stderr collected up to a bound, killed on abort or timeout.
import { spawn } from 'node:child_process';
import { toBerthError } from '../../errors/errors.ts';

export interface RunCommandOptions {
  stdin?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the process (SIGKILL) after this long; the result then has `timedOut`. */
  timeoutMs?: number;
  /** Keep at most this many bytes of each stream. Default 4 MiB. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface RunCommandResult {
  code: number | null;
  exitSignal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

/** Collects a stream's bytes up to a bound, dropping (but still reading) the rest. */
export class BoundedBuffer {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    const room = this.#limit - this.#size;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    if (kept.length < chunk.length) this.truncated = true;
    this.#chunks.push(kept);
    this.#size += kept.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}

/**
 * Runs `file args` and resolves when it exited and its output ended. Rejects only when the process
 * could not be spawned, or with a `cancelled`/`deadline-exceeded` BerthError when `signal` fired
 * (after the process was killed and reaped).
 */
export function runCommand(file: string, args: string[], options: RunCommandOptions = {}): Promise<RunCommandResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(toBerthError(signal.reason));
  const limit = options.maxOutputBytes ?? 4 * 1024 * 1024;
  return new Promise<RunCommandResult>((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: options.cwd,
    });
    const stdout = new BoundedBuffer(limit);
    const stderr = new BoundedBuffer(limit);
    child.stdout!.on('data', (d: Buffer) => stdout.push(d));
    child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    let timedOut = false;
    let aborted = false;
    const timer =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs)
        : undefined;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // EPIPE when the process does not read it all
      child.stdin.end(options.stdin);
    }
    let settled = false;
    const finish = (): void => {
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e) => {
      // Only a failed spawn has no pid; other errors (a failed kill) leave the process to `close`.
      if (settled || child.pid !== undefined) return;
      finish();
      reject(e);
    });
    child.on('close', (code, exitSignal) => {
      if (settled) return;
      finish();
      if (aborted && signal) return reject(toBerthError(signal.reason));
      resolve({ code, exitSignal, stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), timedOut });
    });
  });
}
