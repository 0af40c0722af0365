// A real `berth dockershim` for tests, on a real Docker Engine of its own (docker-engine.ts), with
// a loopback registry holding the busybox-like and pause-like images (named under
// registry.pods.test and mirrored to it), a CNI bridge `berthdockN` on 10.97.N.0/24 and a temp
// dir for config, root and pod logs. cleanUp() removes every pod, stops the dockershim and the
// engine and removes the bridge — also after a failed test.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type CriClient, connectCri } from '../../src/cri/cri-client.ts';
import { sleep } from '../../src/util/sleep.ts';
import { removeLink } from '../agent/support/host-network-cleanup.ts';
import { bridgeConflist } from './cni-conflist.ts';
import { mountsUnder, unmountAll } from './daemon.ts';
import { startDockerEngine, type TestDockerEngine } from './docker-engine.ts';
import { busyboxLikeImage, pushImage } from './image-builder.ts';
import { BUSYBOX, type ContainerInit, IMAGE_HOST, PAUSE, type PodInit } from './pod-fixtures.ts';
import { startRegistry, type TestRegistry } from './registry.ts';
import { makeTempDir, type TempDir } from './tmp.ts';

export { BUSYBOX, PAUSE };

const BERTH_BIN = path.resolve(import.meta.dirname, '../../bin/berth');

export interface DockershimEnvOptions {
  /** N of the bridge `berthdockN` and the subnet 10.97.N.0/24: one per test file. */
  index: number;
  engine?: Parameters<typeof startDockerEngine>[0];
}

export interface DockershimEnv {
  readonly engine: TestDockerEngine;
  readonly registry: TestRegistry;
  readonly dir: string;
  readonly root: string;
  readonly socket: string;
  readonly logRoot: string;
  readonly subnetPrefix: string;
  readonly bridge: string;
  cri(): CriClient;
  logs(): string;
  /** Pulls the busybox-like image through the dockershim. */
  loadImages(): Promise<void>;
  podConfig(name: string, extra?: PodInit): PodInit;
  containerConfig(name: string, script?: string, extra?: ContainerInit): ContainerInit;
  /** Stops the dockershim with `signal` (SIGKILL: as killed) and starts it again on the same root. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  removeAllPods(): Promise<void>;
  cleanUp(): Promise<void>;
}

export interface DockershimOptions {
  /** A directory of the caller's: the config, the root and the socket go below it. */
  dir: string;
  engine: TestDockerEngine;
  /** Registry host → mirror URLs. */
  mirrors: Record<string, string[]>;
  sandboxImage: string;
  cniConfDir: string;
}

export interface TestDockershim {
  readonly endpoint: string;
  readonly root: string;
  readonly configPath: string;
  cri(): CriClient;
  logs(): string;
  /** Stops it with `signal` (SIGKILL: as killed) and starts it again on the same root. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  terminate(signal?: NodeJS.Signals): Promise<void>;
}

/** A `berth dockershim` process on `engine`, serving once Version answers. */
export async function startDockershim(o: DockershimOptions): Promise<TestDockershim> {
  const root = path.join(o.dir, 'root');
  const socket = path.join(o.dir, 'run', 'dockershim.sock');
  const configPath = path.join(o.dir, 'config.toml');
  let child: ChildProcess | undefined;
  let client: CriClient | undefined;
  let log = '';
  await writeFile(
    configPath,
    [
      `sandbox_image = ${JSON.stringify(o.sandboxImage)}`,
      '[cni]',
      `conf_dir = ${JSON.stringify(o.cniConfDir)}`,
      ...Object.entries(o.mirrors).flatMap(([host, urls]) => [`[registries.${JSON.stringify(host)}]`, `mirrors = ${JSON.stringify(urls)}`]),
      '[dockershim]',
      `docker_host = ${JSON.stringify(o.engine.host)}`,
      `socket = ${JSON.stringify(socket)}`,
      `root = ${JSON.stringify(root)}`,
      '',
    ].join('\n'),
  );

  const spawnShim = async (): Promise<void> => {
    await rm(socket, { force: true });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    delete env.NODE_OPTIONS;
    const args = [BERTH_BIN, 'dockershim', '--config', configPath, '--log-level', 'debug'];
    const p = spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', ...args], { cwd: o.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    const append = (d: Buffer) => {
      log = (log + d.toString()).slice(-256 * 1024);
    };
    p.stdout?.on('data', append);
    p.stderr?.on('data', append);
    const deadline = Date.now() + 30_000;
    while (!existsSync(socket)) {
      if (p.exitCode !== null) throw new Error(`berth dockershim exited with ${p.exitCode}:\n${log}`);
      if (Date.now() > deadline) throw new Error(`berth dockershim did not create ${socket}:\n${log}`);
      await sleep(25);
    }
    const c = connectCri(`unix://${socket}`);
    for (;;) {
      try {
        await c.runtime.version({}, { timeoutMs: 2000 });
        break;
      } catch (e) {
        if (p.exitCode !== null || Date.now() > deadline) {
          c.close();
          throw new Error(`berth dockershim did not answer: ${(e as Error).message}\n${log}`);
        }
        await sleep(50);
      }
    }
    client = c;
  };

  const terminate = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    client?.close();
    client = undefined;
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => p.once('close', () => resolve()));
    p.kill(signal);
    const killer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await closed;
    clearTimeout(killer);
  };

  await spawnShim();
  return {
    endpoint: `unix://${socket}`,
    root,
    configPath,
    cri: () => {
      if (!client) throw new Error('the dockershim is not running');
      return client;
    },
    logs: () => log,
    async restart(signal = 'SIGTERM') {
      await terminate(signal);
      await spawnShim();
    },
    terminate,
  };
}

export async function startDockershimEnv(options: DockershimEnvOptions): Promise<DockershimEnv> {
  const n = options.index;
  const tmp: TempDir = await makeTempDir('berth-dockershim-');
  const dir = tmp.path;
  const cniDir = path.join(dir, 'cni');
  const logRoot = path.join(dir, 'logs');
  const bridge = `berthdock${n}`;
  const subnetPrefix = `10.97.${n}.`;
  let registry: TestRegistry | undefined;
  let engine: TestDockerEngine | undefined;
  let shim: TestDockershim | undefined;

  const removeAllPods = async (): Promise<void> => {
    if (!engine) return;
    const all = await engine.docker.listContainers({ all: true, filters: { label: ['io.kubernetes.docker.type'] } }).catch(() => []);
    const client = shim?.cri.bind(shim);
    if (client) {
      for (const c of all.filter((c) => c.Labels['io.kubernetes.docker.type'] === 'podsandbox')) {
        await Promise.resolve()
          .then(() => client().runtime.removePodSandbox({ podSandboxId: c.Id }))
          .catch(() => {});
      }
    }
    // What the CRI could not remove (a test that left the dockershim down).
    const left = await engine.docker.listContainers({ all: true, filters: { label: ['io.kubernetes.docker.type'] } }).catch(() => []);
    for (const c of left)
      await engine.docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {});
  };

  const cleanUp = async (): Promise<void> => {
    await removeAllPods().catch(() => {});
    await shim?.terminate('SIGTERM');
    await engine?.stop();
    await registry?.[Symbol.asyncDispose]();
    await removeLink(bridge).catch(() => {});
    // The dockershim's netns root (a bind mount of itself, as berth daemon's) stays when it stops.
    await unmountAll(await mountsUnder(dir));
    await tmp.remove();
  };

  try {
    registry = await startRegistry();
    await pushImage(registry, 'library/busybox:1', busyboxLikeImage());
    await pushImage(registry, 'library/pause:1', busyboxLikeImage({ config: { Entrypoint: ['/bin/sleep', '2147483647'], Cmd: null } }));
    engine = await startDockerEngine(options.engine);
    await mkdir(cniDir, { recursive: true });
    await mkdir(logRoot, { recursive: true });
    await writeFile(
      path.join(cniDir, '10-berth-dock.conflist'),
      bridgeConflist(`berth-dock-${n}`, bridge, `${subnetPrefix}0/24`, path.join(dir, 'ipam')),
    );
    shim = await startDockershim({
      dir,
      engine,
      mirrors: { [IMAGE_HOST]: [registry.url] },
      sandboxImage: PAUSE,
      cniConfDir: cniDir,
    });
  } catch (e) {
    await cleanUp();
    throw e;
  }
  const eng = engine;
  const reg = registry;
  const sh = shim!;

  // Through the CRI, so the mirror and the asked name are the dockershim's; the pause image is
  // left to RunPodSandbox, which pulls it when the engine lacks it.
  const loadImages = async (): Promise<void> => {
    await sh.cri().image.pullImage({ image: { image: BUSYBOX } });
  };

  return {
    engine: eng,
    registry: reg,
    dir,
    root: sh.root,
    socket: sh.endpoint.slice('unix://'.length),
    logRoot,
    subnetPrefix,
    bridge,
    cri: () => sh.cri(),
    logs: () => sh.logs(),
    loadImages,
    podConfig: (name, extra = {}) => ({
      metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
      logDirectory: path.join(logRoot, name),
      ...extra,
    }),
    containerConfig: (name, script = 'sleep 2147483647', extra = {}) => ({
      metadata: { name, attempt: 0 },
      image: { image: BUSYBOX },
      command: ['sh', '-c', script],
      logPath: `${name}.log`,
      ...extra,
    }),
    restart: (signal) => sh.restart(signal),
    removeAllPods,
    cleanUp,
  };
}
