// A runtime daemon as a child process: spawned with setpriv --pdeathsig (it dies with the
// benchmark even when the benchmark is killed), its output kept, ready when its CRI socket
// answers Version.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type CriClient, connectCri } from '../src/cri/cri-client.ts';
import { sleep } from './host.ts';

const LOG_LIMIT = 2 * 1024 * 1024;

export interface DaemonProcess {
  readonly pid: number;
  readonly endpoint: string;
  readonly cri: CriClient;
  running(): boolean;
  logs(): string;
  /** SIGTERM, SIGKILL after `graceMs`; closes the client. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonSpawn {
  /** For messages: `containerd`, `berth`. */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  socket: string;
  startTimeoutMs?: number;
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

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function spawnDaemon(spec: DaemonSpawn): Promise<DaemonProcess> {
  const useSetpriv = existsSync('/usr/bin/setpriv');
  const child = useSetpriv
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', spec.command, ...spec.args], {
        cwd: spec.cwd,
        env: spec.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
  });
  child.once('exit', () => live.delete(child));

  const endpoint = `unix://${spec.socket}`;
  let cri: CriClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 20_000): Promise<void> => {
    stopping ??= (async () => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, graceMs))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5000);
        }
      }
      cri?.close();
      live.delete(child);
    })();
    return stopping;
  };

  const failed = (why: string): Error => new Error(`${spec.name} ${why}\n--- ${spec.name} log (tail) ---\n${log.slice(-6000)}`);
  try {
    const deadline = Date.now() + (spec.startTimeoutMs ?? 60_000);
    // The socket first: a gRPC channel that failed to connect backs off for seconds.
    while (!existsSync(spec.socket)) {
      if (spawnError !== undefined) throw failed(`failed to start: ${spawnError.message}`);
      if (exited(child)) throw failed(`exited (${child.exitCode ?? child.signalCode}) before serving`);
      if (Date.now() > deadline) throw failed(`did not create ${spec.socket} in time`);
      await sleep(25);
    }
    for (;;) {
      const client = connectCri(endpoint);
      try {
        await client.runtime.version({}, { timeoutMs: 3000 });
        cri = client;
        break;
      } catch (e) {
        client.close();
        if (exited(child)) throw failed(`exited (${child.exitCode ?? child.signalCode}) before answering Version`);
        if (Date.now() > deadline) throw failed(`did not answer Version: ${(e as Error).message}`);
        await sleep(100);
      }
    }
  } catch (e) {
    await stop(5000);
    throw e;
  }
  const client = cri;
  return {
    pid: child.pid as number,
    endpoint,
    cri: client,
    running: () => !exited(child),
    logs: () => log,
    stop,
  };
}
