// Streaming exec, two ways:
//
// - Without a terminal, `<runtime> exec` runs with the daemon's pipes as the process's stdin,
//   stdout and stderr (CRI-O does the same): the streams stay apart, closing the pipe closes stdin,
//   and the runtime's exit status is the command's.
// - With a terminal, the runtime hands the pty's master over a console socket with SCM_RIGHTS,
//   which Node cannot receive. conmon can: in exec mode (`--exec --exec-attach -t`, as Podman runs
//   it) it takes the master, serves it on its attach socket (see seqpacket-relay.ts), resizes on
//   its `ctl` fifo, and reports the pid and then the exit code on its sync pipe. --exec-attach
//   with a start pipe makes it wait until the client is connected, so no early output is lost.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { failedPrecondition, internal } from '../../errors/errors.ts';
import type { Process, RuntimeSpec } from '../../oci/runtime-spec.ts';
import { parseSyncMessage } from '../../runtime/oci/conmon-spawn.ts';
import { execProcessSpec } from '../../runtime/oci/exec-sync.ts';
import { killProcessTree, signalProcess } from '../../runtime/oci/proc.ts';
import { runtimeErrorMessage } from '../../runtime/oci/runtime-cli.ts';
import { readIntFile } from '../../runtime/oci/state-layout.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import type { TerminalSize } from '../remote-command.ts';
import type { StreamProcess } from '../run-remote-command.ts';
import { resizeConmonTerminal } from './conmon-ctl.ts';
import { spawnSeqpacketRelay } from './seqpacket-relay.ts';

export interface ExecTarget {
  containerId: string;
  /** The container's bundle: its config.json gives the process to start from. */
  bundle: string;
  runtimePath: string;
  runtimeRoot: string;
  cmd: string[];
}

export interface ExecOptions {
  stdin: boolean;
  /** A directory of this session's own (created here, removed by kill()). */
  workDir: string;
}

const PATH_ENV = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin';

async function containerProcess(bundle: string): Promise<Process> {
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
  if (!spec.process) throw failedPrecondition('exec-no-process', `the bundle ${bundle} has no process`);
  return spec.process;
}

function exitCodeOf(code: number | null, sig: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0);
}

async function runtimeFailure(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return runtimeErrorMessage(
    log
      .split('\n')
      .filter((l) => /"level":"(error|fatal)"/.test(l))
      .join('\n'),
  );
}

function once<T>(body: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= body();
    return p;
  };
}

/** `<runtime> exec` on pipes: no terminal. */
export async function startPipeExec(target: ExecTarget, options: ExecOptions): Promise<StreamProcess> {
  const base = await containerProcess(target.bundle);
  await mkdir(options.workDir, { recursive: true, mode: 0o700 });
  const specFile = path.join(options.workDir, 'process.json');
  const pidFile = path.join(options.workDir, 'pid');
  const logFile = path.join(options.workDir, 'runtime.log');
  await writeFileAtomic(specFile, JSON.stringify(execProcessSpec(base, target.cmd)), 0o600);
  const argv = [
    '--root',
    target.runtimeRoot,
    '--log',
    logFile,
    '--log-format',
    'json',
    'exec',
    '--process',
    specFile,
    '--pid-file',
    pidFile,
    target.containerId,
  ];
  const child = spawn(target.runtimePath, argv, {
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { PATH: PATH_ENV },
  });
  child.stdin?.on('error', () => {});
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(internal('exec-failed', `cannot run ${target.runtimePath}: ${e.message}`, { cause: e })));
    child.once('exit', (code, sig) => {
      void (async () => {
        const exitCode = exitCodeOf(code, sig);
        if (exitCode !== 0) {
          const failure = await runtimeFailure(logFile);
          if (failure !== '') {
            reject(internal('exec-failed', `${path.basename(target.runtimePath)} exec failed: ${failure}`));
            return;
          }
        }
        resolve(exitCode);
      })();
    });
  });
  done.catch(() => {});
  const kill = once(async () => {
    const pid = await readIntFile(pidFile).catch(() => undefined);
    if (pid !== undefined && pid > 0) await killProcessTree(pid).catch(() => []);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await done.catch(() => {});
    await rm(options.workDir, { recursive: true, force: true });
  });
  return {
    stdin: child.stdin ?? undefined,
    stdout: child.stdout!,
    stderr: child.stderr!,
    resize: () => {},
    done,
    kill,
  };
}

export interface TtyExecOptions extends ExecOptions {
  conmonPath: string;
  /** The terminal size to start with, when the client told it already. */
  size?: TerminalSize;
}

/** Reads conmon's JSON lines from a pipe, one at a time. */
class SyncReader {
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string | undefined) => void)[] = [];
  #ended = false;
  #text = '';

  constructor(pipe: Readable) {
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => {
      this.#text += s;
      for (let nl = this.#text.indexOf('\n'); nl >= 0; nl = this.#text.indexOf('\n')) {
        this.#deliver(this.#text.slice(0, nl));
        this.#text = this.#text.slice(nl + 1);
      }
    });
    const end = (): void => {
      if (this.#ended) return;
      if (this.#text.trim() !== '') this.#deliver(this.#text.trim());
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    };
    pipe.on('end', end);
    pipe.on('close', end);
    pipe.on('error', end);
  }

  #deliver(line: string): void {
    const w = this.#waiters.shift();
    if (w) w(line);
    else this.#lines.push(line);
  }

  next(): Promise<string | undefined> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** `<runtime> exec --tty` under conmon, reached through its attach socket. */
export async function startTtyExec(target: ExecTarget, options: TtyExecOptions): Promise<StreamProcess> {
  const base = await containerProcess(target.bundle);
  const dir = options.workDir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const spec = execProcessSpec(base, target.cmd);
  spec.terminal = true;
  if (options.size && options.size.width > 0 && options.size.height > 0)
    spec.consoleSize = { width: options.size.width, height: options.size.height };
  const specFile = path.join(dir, 'process.json');
  await writeFileAtomic(specFile, JSON.stringify(spec), 0o600);
  const conmonPidFile = path.join(dir, 'conmon.pid');
  const args = [
    '--api-version',
    '1',
    '-c',
    target.containerId,
    '-u',
    'exec',
    '-r',
    target.runtimePath,
    '-b',
    dir,
    '-p',
    path.join(dir, 'pid'),
    '-P',
    conmonPidFile,
    '--socket-dir-path',
    dir,
    '-l',
    'none',
    '--log-level',
    'error',
    '--exec',
    '--exec-attach',
    '--exec-process-spec',
    specFile,
    '-t',
    ...(options.stdin ? ['-i'] : []),
    '--runtime-arg',
    `--root=${target.runtimeRoot}`,
    '--runtime-arg',
    `--log=${path.join(dir, 'runtime.log')}`,
    '--runtime-arg',
    '--log-format=json',
  ];
  const conmon: ChildProcess = spawn(options.conmonPath, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { PATH: PATH_ENV, TMPDIR: dir, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
  });
  conmon.unref();
  let conmonStderr = '';
  conmon.stderr!.on('data', (d: Buffer) => {
    if (conmonStderr.length < 8192) conmonStderr += d.toString('utf8');
  });
  const syncPipe = conmon.stdio[3] as Readable;
  const startPipe = conmon.stdio[4] as Writable;
  const attachPipe = (conmon.stdio as unknown as Readable[])[5]!;
  for (const p of [syncPipe, startPipe, attachPipe]) p.on('error', () => {});
  const sync = new SyncReader(syncPipe);
  const attach = new SyncReader(attachPipe);

  let execPid: number | undefined;
  let relay: ReturnType<typeof spawnSeqpacketRelay> | undefined;
  const kill = once(async () => {
    if (execPid !== undefined) await killProcessTree(execPid).catch(() => []);
    relay?.child.kill('SIGKILL');
    const conmonPid = await readIntFile(conmonPidFile).catch(() => undefined);
    if (conmonPid !== undefined) {
      // conmon leaves on its own once the process is gone; give it a moment, then make sure.
      for (let i = 0; i < 50 && signalProcess(conmonPid, 0); i++) await new Promise((r) => setTimeout(r, 20));
      signalProcess(conmonPid, 'SIGKILL');
    }
    for (const p of [syncPipe, startPipe, attachPipe]) p.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  try {
    // 1st start message: conmon may go on (it waits for it before forking anything).
    startPipe.write('0');
    const attachLine = await attach.next();
    if (attachLine === undefined) {
      const first = await sync.next();
      const msg = first ? parseSyncMessage(first) : undefined;
      throw internal(
        'exec-failed',
        `conmon did not set up the exec session${msg?.message ? `: ${msg.message.trim()}` : conmonStderr ? `: ${conmonStderr.trim()}` : ''}`,
      );
    }
    relay = spawnSeqpacketRelay(dir, 'attach', { stdin: options.stdin });
    await relay.connected;
    // 2nd start message: the runtime may start the process now that its output has a reader.
    startPipe.write('0');
    const first = await sync.next();
    const started = first === undefined ? undefined : parseSyncMessage(first);
    if (started === undefined || started.data <= 0) {
      const runtimeSaid = (started?.message ?? '').trim() || (await runtimeFailure(path.join(dir, 'runtime.log')));
      throw internal(
        'exec-failed',
        `${path.basename(target.runtimePath)} exec failed: ${runtimeSaid || conmonStderr.trim() || 'no message'}`,
      );
    }
    execPid = started.data;
  } catch (e) {
    await kill();
    throw e;
  }

  const done = (async () => {
    const line = await sync.next();
    const msg = line === undefined ? undefined : parseSyncMessage(line);
    if (msg === undefined) throw internal('exec-failed', 'conmon exited without reporting the exit code of the command');
    if (msg.message && msg.data < 0) throw internal('exec-failed', msg.message.trim());
    return msg.data;
  })();
  done.catch(() => {});
  const r = relay;
  r.child.stdin?.on('error', () => {});
  return {
    stdin: r.child.stdin ?? undefined,
    stdout: r.child.stdout!,
    stderr: r.child.stderr!,
    resize: (size) => {
      void resizeConmonTerminal(dir, size);
    },
    done,
    kill,
  };
}
