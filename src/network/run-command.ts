// Runs a helper program (unshare, umount, a CNI plugin) and collects what it prints, bounded.
// Does not throw for a non-zero exit: callers know what an exit code means for their program.
import { spawn } from 'node:child_process';
import { toBerthError } from '../errors/errors.ts';

export interface RunOptions {
  /** Written to the program's stdin, which is then closed. */
  input?: string;
  /** The whole environment of the program (not merged with the daemon's). */
  env?: NodeJS.ProcessEnv;
  /** Kills the program with SIGKILL when it fires; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bytes kept of stdout and of stderr each; more is dropped (and `truncated` set). */
  maxOutput?: number;
}

export interface RunResult {
  /** The exit code, or null when a signal ended the program. */
  code: number | null;
  /** The signal that ended the program, if one did. */
  exitSignal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

const DEFAULT_MAX_OUTPUT = 1 << 20;

/** The PATH programs get when the daemon has none (a bare environment under some service managers). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The daemon's environment with LC_ALL=C (stable messages) and a PATH that is never empty. */
export function helperEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: process.env.PATH || DEFAULT_PATH, LC_ALL: 'C', ...extra };
}

/**
 * Starts `file` with `args` and waits for it to exit. Rejects only when it cannot be started
 * (ENOENT, EACCES: the error carries `code`) or when `signal` fires (the program is killed first).
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, input, env = helperEnv() } = options;
  const max = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  if (signal?.aborted) return Promise.reject(toBerthError(signal.reason));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let settled = false;
    const collect = (chunks: Buffer[], chunk: Buffer, len: number): number => {
      const room = max - len;
      if (room <= 0) {
        truncated = true;
        return len;
      }
      if (chunk.length > room) truncated = true;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      return len + Math.min(room, chunk.length);
    };
    child.stdout.on('data', (c: Buffer) => (outLen = collect(out, c, outLen)));
    child.stderr.on('data', (c: Buffer) => (errLen = collect(err, c, errLen)));
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('error', (e) => finish(() => reject(e)));
    child.on('close', (code, exitSignal) =>
      finish(() => {
        if (signal?.aborted) {
          reject(toBerthError(signal.reason));
          return;
        }
        resolve({
          code,
          exitSignal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          truncated,
        });
      }),
    );
    // A program that exits without reading its stdin makes the write fail with EPIPE: not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** The last meaningful line of a program's stderr, for error messages. */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.at(-1) ?? '';
}
