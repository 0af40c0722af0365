// A private Docker Engine (Debian's docker.io) under one runtime's directory, for the shims that
// serve the CRI on Docker (berth dockershim, cri-dockerd): its own data root (the image store, at
// `<dir>/root` like the other runtimes' roots), exec root, socket and pid file, its containers
// under the footprint's cgroup top, no bridge and no iptables rules of its own (pods are networked
// by CNI), three concurrent layer downloads as the others have. Stopped by stop(); what it leaves
// (its containerd, shims, the exec root's netns mount, cgroups) is undone by cleanFootprint,
// since every path of it lies in the runtime's directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { listProcesses, sleep } from './host.ts';
import type { RuntimeFootprint } from './runtime-under-test.ts';

export const DOCKERD_BINARY = '/usr/sbin/dockerd';
const LOG_LIMIT = 1024 * 1024;

export interface BenchDockerd {
  readonly pid: number;
  readonly socket: string;
  /** `unix:///…/docker.sock` */
  readonly host: string;
  readonly docker: Docker;
  /** dockerd and the containerd it started: what the node pays for the engine besides the shims. */
  enginePids(): Promise<number[]>;
  logs(): string;
  /** SIGTERM (dockerd stops its containers within --shutdown-timeout), SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

export interface BenchDockerdOptions {
  footprint: RuntimeFootprint;
  /** Extra runtimes (name → executable) and the one containers get when they name none. */
  runtimes?: Record<string, string>;
  defaultRuntime?: string;
}

export async function startBenchDockerd(o: BenchDockerdOptions): Promise<BenchDockerd> {
  const dir = path.join(o.footprint.dir, 'docker');
  await mkdir(dir, { recursive: true });
  const socket = path.join(dir, 'docker.sock');
  const configFile = path.join(dir, 'daemon.json');
  const daemonJson: Record<string, unknown> = {
    'cgroup-parent': `${o.footprint.cgroupTop}/docker`,
    'exec-opts': ['native.cgroupdriver=cgroupfs'],
    'live-restore': false,
    'max-concurrent-downloads': 3,
    'log-level': 'info',
  };
  if (o.runtimes !== undefined) daemonJson.runtimes = Object.fromEntries(Object.entries(o.runtimes).map(([n, p]) => [n, { path: p }]));
  if (o.defaultRuntime !== undefined) daemonJson['default-runtime'] = o.defaultRuntime;
  await writeFile(configFile, `${JSON.stringify(daemonJson, null, 2)}\n`);
  const args = [
    '--config-file', configFile,
    '--data-root', path.join(o.footprint.dir, 'root'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'docker.pid'),
    '-H', `unix://${socket}`,
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    '--shutdown-timeout', '3',
  ]; // biome-ignore format: flag pairs
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TMPDIR: dir };
  // --pdeathsig: the engine dies with the benchmark, even when the benchmark is killed.
  const child: ChildProcess = spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', DOCKERD_BINARY, ...args], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const docker = new Docker({ socketPath: socket, version: 'v1.41' });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited()) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(killer);
    })();
    return stopping;
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited())
      throw new Error(
        `dockerd exited (${child.exitCode ?? child.signalCode}) before serving\n--- dockerd log (tail) ---\n${log.slice(-6000)}`,
      );
    if (
      existsSync(socket) &&
      (await docker.ping().then(
        () => true,
        () => false,
      ))
    )
      break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not answer on ${socket} within 60 s\n--- dockerd log (tail) ---\n${log.slice(-6000)}`);
    }
    await sleep(100);
  }
  const pid = child.pid as number;
  return {
    pid,
    socket,
    host: `unix://${socket}`,
    docker,
    async enginePids() {
      const children = (await listProcesses()).filter((p) => p.ppid === pid && p.comm === 'containerd').map((p) => p.pid);
      return [pid, ...children];
    },
    logs: () => log,
    stop,
  };
}

/**
 * Loads `images` (names under REGISTRY_HOST) into the engine from the loopback registry, for an
 * engine whose shim has no mirror for that host: pulled under the registry's own name (Docker
 * takes 127.0.0.0/8 registries as plain HTTP), tagged under the asked name, the registry's name
 * removed again.
 */
export async function preloadImages(docker: Docker, registryUrl: string, registryHost: string, images: string[]): Promise<void> {
  const source = new URL(registryUrl).host;
  for (const image of images) {
    if (!image.startsWith(`${registryHost}/`)) throw new Error(`${image} is not under ${registryHost}`);
    const rest = image.slice(registryHost.length + 1);
    const from = `${source}/${rest}`;
    const stream = await docker.pull(from);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
        const failed = err ?? output.find((o) => o.error !== undefined)?.error;
        if (failed) reject(new Error(`pulling ${from} into the engine: ${String(failed)}`));
        else resolve();
      });
    });
    const colon = image.lastIndexOf(':');
    await docker.getImage(from).tag({ repo: image.slice(0, colon), tag: image.slice(colon + 1) });
    await docker.getImage(from).remove();
  }
}
