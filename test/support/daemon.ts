// A real `berth daemon` for integration tests: its own config, root, state and socket in a temp
// dir, spawned as a child process (bin/berth), reached over CRI on its unix socket.
//
//   const daemon = await startDaemon({ registries: { 'registry.example.test': { mirrors: [registry.url] } } });
//   try {
//     await daemon.cri.image.pullImage({ image: { image: 'registry.example.test/busybox:1' } });
//   } finally {
//     await daemon.stop();
//   }
//
// The daemon's TMPDIR is in the temp dir too, so that `mounts()` (which looks below the temp dir
// and the root) sees every mount the daemon left behind. `terminate()` / `kill9()` end the process
// but keep its files; `restart()` starts it again on the same config, root and state.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type CriClient, connectCri } from '../../src/cri/cri-client.ts';
import { sleep } from '../../src/util/sleep.ts';
import { makeTempDir, type TempDir } from './tmp.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const BERTH_BIN = path.join(REPO_ROOT, 'bin', 'berth');
const LOG_LIMIT = 4 * 1024 * 1024;

export interface DaemonRegistryConfig {
  /** Endpoints with scheme (`http://127.0.0.1:5000`), tried in order before the host itself. */
  mirrors: string[];
  /** Plain HTTP to the host itself. */
  insecure?: boolean;
}

export interface DaemonOptions {
  /** `[registries."HOST"]` tables. */
  registries?: Record<string, DaemonRegistryConfig>;
  /**
   * More TOML, placed after the top-level keys and before the `[registries]` and `[cni]` tables
   * this fixture writes (so it may set top-level keys or add tables such as `[image]`, but must not
   * repeat `[cni]` or a registry host given in `registries`).
   */
  extraConfig?: string;
  /** Use this root (persistent data) instead of one in the temp dir; it is not removed by stop(). */
  root?: string;
  /** Use this state dir instead of one in the temp dir; it is not removed by stop(). */
  state?: string;
  /** `--log-level` of the daemon. Default 'debug'. */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for the socket to answer Version. Default 30 s. */
  startTimeoutMs?: number;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestDaemon extends AsyncDisposable {
  /** The temp dir holding config, socket, state, root (unless given) and the daemon's TMPDIR. */
  readonly dir: string;
  readonly configPath: string;
  /** Path of the unix socket. */
  readonly socket: string;
  /** `unix://<socket>` */
  readonly endpoint: string;
  readonly root: string;
  readonly state: string;
  /** A CRI client connected to the running daemon (a new one after each restart). */
  readonly cri: CriClient;
  /** Pid of the running (or last) daemon process. */
  readonly pid: number;
  /** True while the daemon process runs. */
  readonly running: boolean;
  /** How the last daemon process ended (undefined while it runs). */
  readonly exit: DaemonExit | undefined;
  /** Everything the daemon wrote on stdout and stderr, over all its runs (the last 4 MiB). */
  logs(): string;
  /** The JSON log lines, parsed (other lines skipped). */
  logEntries(): Record<string, unknown>[];
  /** Mount points at or below the temp dir and the root (there should be none). */
  mounts(): Promise<string[]>;
  /** Sends `signal` and waits for the process to end (SIGKILL after `graceMs`, default 20 s). Files stay. */
  terminate(signal?: NodeJS.Signals, graceMs?: number): Promise<DaemonExit>;
  /** SIGKILL, as a crash would: nothing is cleaned up. Files stay. */
  kill9(): Promise<DaemonExit>;
  /**
   * Ends the process if it runs (`terminate(signal)`), then starts it again with the same config
   * and waits for Version. Returns how the old process ended.
   */
  restart(signal?: NodeJS.Signals): Promise<DaemonExit>;
  /**
   * Ends the daemon (`signal`, default SIGTERM), unmounts anything left below the temp dir and the
   * root, and removes the temp dir (a root or state given in the options stays). Idempotent.
   * Returns the mount points it had to unmount (there should be none).
   */
  stop(signal?: NodeJS.Signals): Promise<string[]>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone already
      }
    }
  });
}

function tomlString(value: string): string {
  return JSON.stringify(value);
}

function renderConfig(dirs: { root: string; state: string; socket: string; cniConfDir: string }, options: DaemonOptions): string {
  const lines = [
    '# written by test/support/daemon.ts',
    `root = ${tomlString(dirs.root)}`,
    `state = ${tomlString(dirs.state)}`,
    `socket = ${tomlString(dirs.socket)}`,
    '',
  ];
  if (options.extraConfig !== undefined) lines.push(options.extraConfig.trim(), '');
  for (const [host, reg] of Object.entries(options.registries ?? {})) {
    lines.push(`[registries.${tomlString(host)}]`);
    lines.push(`mirrors = [${reg.mirrors.map(tomlString).join(', ')}]`);
    if (reg.insecure !== undefined) lines.push(`insecure = ${reg.insecure}`);
    lines.push('');
  }
  lines.push('[cni]', `conf_dir = ${tomlString(dirs.cniConfDir)}`, '');
  return lines.join('\n');
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Mount points of this mount namespace at or below one of `dirs` (deepest first). */
export async function mountsUnder(...dirs: string[]): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const prefixes = await Promise.all(dirs.map(async (d) => realpath(d).catch(() => path.resolve(d))));
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
    if (prefixes.some((p) => point === p || point.startsWith(`${p}/`))) out.push(point);
  }
  return out.reverse();
}

/** `umount -l` of each point, in the order given (deepest first from mountsUnder). */
export async function unmountAll(points: string[]): Promise<void> {
  for (const point of points) {
    await new Promise<void>((resolve) => {
      const child = spawn('umount', ['-l', '--', point], { stdio: 'ignore' });
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
  }
}

/** Starts `berth daemon` on a fresh config and waits until its socket answers Version. */
export async function startDaemon(options: DaemonOptions = {}): Promise<TestDaemon> {
  if (!existsSync(BERTH_BIN)) throw new Error(`${BERTH_BIN} is missing`);
  const temp: TempDir = await makeTempDir('berth-daemon-');
  const dir = temp.path;
  const root = options.root ?? path.join(dir, 'root');
  const state = options.state ?? path.join(dir, 'state');
  // The socket sits in its own directory: the daemon makes that directory 0700.
  const socket = path.join(dir, 'run', 'berth.sock');
  const cniConfDir = path.join(dir, 'cni');
  const tmp = path.join(dir, 'tmp');
  const configPath = path.join(dir, 'config.toml');
  const endpoint = `unix://${socket}`;

  let child: ChildProcess | undefined;
  let cri: CriClient | undefined;
  let lastExit: DaemonExit | undefined;
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };

  const spawnDaemon = async (): Promise<void> => {
    await rm(socket, { force: true });
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
    delete env.CONTAINER_RUNTIME_ENDPOINT;
    delete env.NODE_OPTIONS;
    delete env.NODE_TEST_CONTEXT;
    const args = [BERTH_BIN, 'daemon', '--config', configPath, '--log-level', options.logLevel ?? 'debug'];
    // setpriv --pdeathsig: the daemon dies with the test process even when that crashes.
    const useSetpriv = existsSync('/usr/bin/setpriv');
    const proc = useSetpriv
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(args[0] as string, args.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    lastExit = undefined;
    live.add(proc);
    installExitHook();
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
    });
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      lastExit = { code, signal };
    });

    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    const failed = (why: string): Error => new Error(`berth daemon ${why}\n--- daemon log ---\n${log.slice(-20_000)}`);
    // Wait for the socket file first: a gRPC channel that failed to connect backs off for seconds.
    while (!existsSync(socket)) {
      if (spawnError !== undefined) throw failed(`failed to start: ${spawnError.message}`);
      if (exited(proc)) throw failed(`exited (${proc.exitCode ?? proc.signalCode}) before serving`);
      if (Date.now() > deadline) throw failed(`did not create ${socket} in time`);
      await sleep(25);
    }
    const client = connectCri(endpoint);
    for (;;) {
      try {
        await client.runtime.version({}, { timeoutMs: Math.max(1000, Math.min(5000, deadline - Date.now())) });
        break;
      } catch (e) {
        if (exited(proc) || Date.now() > deadline) {
          client.close();
          throw failed(`did not answer Version: ${(e as Error).message}`);
        }
        await sleep(50);
      }
    }
    cri = client;
  };

  const terminate = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<DaemonExit> => {
    const proc = child;
    // The client stays connected until the process is gone, as a kubelet's would: calls in
    // flight see the daemon stop, not their client go away.
    if (proc !== undefined && !exited(proc)) {
      proc.kill(signal);
      if (!(await waitForExit(proc, graceMs))) {
        proc.kill('SIGKILL');
        await waitForExit(proc, 5000);
      }
    }
    cri?.close();
    cri = undefined;
    if (proc === undefined) return lastExit ?? { code: null, signal: null };
    live.delete(proc);
    return lastExit ?? { code: proc.exitCode, signal: proc.signalCode };
  };

  const mounts = (): Promise<string[]> => mountsUnder(dir, root);

  let stopping: Promise<string[]> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<string[]> => {
    stopping ??= (async () => {
      await terminate(signal);
      const left = await mounts();
      await unmountAll(left);
      await temp.remove();
      return left;
    })();
    return stopping;
  };

  try {
    await mkdir(cniConfDir, { recursive: true });
    await mkdir(tmp, { recursive: true });
    await writeFile(configPath, renderConfig({ root, state, socket, cniConfDir }, options));
    await spawnDaemon();
  } catch (e) {
    await stop('SIGKILL');
    throw e;
  }

  const daemon: TestDaemon = {
    dir,
    configPath,
    socket,
    endpoint,
    root,
    state,
    get cri(): CriClient {
      if (cri === undefined) throw new Error('berth daemon is not running (terminated, killed or stopped)');
      return cri;
    },
    get pid(): number {
      return child?.pid ?? -1;
    },
    get running(): boolean {
      return child !== undefined && !exited(child);
    },
    get exit(): DaemonExit | undefined {
      return lastExit;
    },
    logs: () => log,
    logEntries() {
      const out: Record<string, unknown>[] = [];
      for (const line of log.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          out.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by the log limit
        }
      }
      return out;
    },
    mounts,
    terminate,
    kill9: () => terminate('SIGKILL'),
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      if (stopping !== undefined) throw new Error('berth daemon was stopped; start a new one');
      const exit = await terminate(signal);
      await spawnDaemon();
      return exit;
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
  return daemon;
}
