// A real Docker Engine (Debian's docker.io) for the dockershim's tests, on its own socket, data
// root, exec root and cgroup parent in a temp dir, with no bridge and no iptables rules of its own
// (the dockershim networks pods through CNI). stop() stops the engine, kills what is left of its
// containerd and shims, unmounts what it mounted, removes its cgroups and the temp dir — also after
// a failed test.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { sleep } from '../../src/util/sleep.ts';
import { makeTempDir } from './tmp.ts';

export const DOCKERD_BINARY = '/usr/sbin/dockerd';

export interface DockerEngineOptions {
  /** dockerd's --live-restore: containers outlive a restart of the engine. Default false. */
  liveRestore?: boolean;
  /** Extra runtimes by name (the engine's `runtimes` in daemon.json): name → binary path. */
  runtimes?: Record<string, string>;
  /** The runtime containers get when they name none. Default the engine's (runc). */
  defaultRuntime?: string;
  /**
   * Make runc-host-fit.ts the default runtime: privileged containers and negative oom_score_adj
   * work on a machine without CAP_SYS_RESOURCE (as these test machines are). Default false.
   */
  fitRuntimeToHost?: boolean;
}

export interface TestDockerEngine extends AsyncDisposable {
  /** `unix:///…/docker.sock`, for --docker-host. */
  readonly host: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  /** The cgroup parent the engine puts containers under when they name none. */
  readonly cgroupParent: string;
  /** A client at the engine's own API version. */
  readonly docker: Docker;
  pid(): number;
  /** The engine's log so far (the last 256 KiB). */
  logs(): string;
  /** Stops the engine (SIGTERM, then SIGKILL after `graceMs`) and starts it again on the same roots. */
  restart(graceMs?: number): Promise<void>;
  /** Stops the engine without starting it again (a down engine); start() brings it back. */
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function mountsUnder(mountinfo: string, roots: string[]): string[] {
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && roots.some((r) => p === r || p.startsWith(`${r}/`)));
  return points.sort((a, b) => b.length - a.length);
}

async function run(file: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(file, args, { stdio: 'ignore' });
    p.once('error', () => resolve(-1));
    p.once('close', (code) => resolve(code ?? -1));
  });
}

async function processesMentioning(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) pids.push(Number(name));
  }
  return pids;
}

async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  await rmdir(dir).catch(() => {});
}

export async function startDockerEngine(options: DockerEngineOptions = {}): Promise<TestDockerEngine> {
  const tmp = await makeTempDir('berth-dockerd-');
  const dataRoot = path.join(tmp.path, 'data');
  const execRoot = path.join(tmp.path, 'exec');
  const socket = path.join(tmp.path, 'docker.sock');
  const cgroupParent = `/berth-test-docker-${randomBytes(4).toString('hex')}`;
  const configFile = path.join(tmp.path, 'daemon.json');
  const daemonJson: Record<string, unknown> = {
    'live-restore': options.liveRestore ?? false,
    'cgroup-parent': cgroupParent,
  };
  const runtimes: Record<string, { path: string }> = Object.fromEntries(
    Object.entries(options.runtimes ?? {}).map(([n, p]) => [n, { path: p }]),
  );
  if (options.fitRuntimeToHost) {
    const wrapper = path.join(tmp.path, 'runc-host-fit');
    const script = path.resolve(import.meta.dirname, 'runc-host-fit.ts');
    await writeFile(wrapper, `#!/bin/sh\nexec ${process.execPath} --disable-warning=ExperimentalWarning ${script} "$@"\n`, { mode: 0o755 });
    runtimes['runc-host-fit'] = { path: wrapper };
    daemonJson['default-runtime'] = 'runc-host-fit';
  }
  if (Object.keys(runtimes).length > 0) daemonJson.runtimes = runtimes;
  if (options.defaultRuntime) daemonJson['default-runtime'] = options.defaultRuntime;
  await writeFile(configFile, JSON.stringify(daemonJson));
  const args = [
    '--config-file', configFile,
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--pidfile', path.join(tmp.path, 'docker.pid'),
    '-H', `unix://${socket}`,
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    '--shutdown-timeout', '3',
  ]; // biome-ignore format: flag pairs
  let log = '';
  let child: ChildProcess | undefined;
  const docker = new Docker({ socketPath: socket, version: 'v1.41' });

  const start = async (): Promise<void> => {
    const p = spawn(DOCKERD_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    const append = (d: Buffer) => {
      log = (log + d.toString()).slice(-256 * 1024);
    };
    p.stdout?.on('data', append);
    p.stderr?.on('data', append);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`dockerd exited with ${p.exitCode}:\n${log}`);
      if (
        existsSync(socket) &&
        (await docker.ping().then(
          () => true,
          () => false,
        ))
      )
        return;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer on ${socket} within 30 s:\n${log}`);
      await sleep(100);
    }
  };

  const halt = async (graceMs = 15_000): Promise<void> => {
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null) return;
    const closed = new Promise<void>((resolve) => p.once('close', () => resolve()));
    p.kill('SIGTERM');
    const killer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await closed;
    clearTimeout(killer);
  };

  const stop = async (): Promise<void> => {
    if (!existsSync(tmp.path)) return;
    await halt();
    // The engine's containerd, shims and container processes (a killed engine leaves them).
    for (let round = 0; round < 3; round++) {
      const pids = await processesMentioning(tmp.path);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      await sleep(200);
    }
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    for (const point of mountsUnder(mountinfo, [tmp.path])) await run('umount', ['-l', point]);
    for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await removeCgroupTree(path.join('/sys/fs/cgroup', hierarchy, cgroupParent));
    }
    await tmp.remove();
  };

  try {
    await start();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host: `unix://${socket}`,
    socket,
    dataRoot,
    execRoot,
    cgroupParent,
    docker,
    pid: () => child?.pid ?? 0,
    logs: () => log,
    async restart(graceMs) {
      await halt(graceMs);
      await start();
    },
    halt: () => halt(),
    start,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
