// berth daemon: builds the concrete objects from the config, serves the CRI, stops on SIGTERM.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, loadConfig } from '../config/config.ts';
import { berthImagesHandlers } from '../cri/berth-images-service.ts';
import { bindService, criBindings, startCriServer } from '../cri/server.ts';
import { Images } from '../cri-api/gen/berth/v1/images_pb.js';
import { failedPrecondition } from '../errors/errors.ts';
import { detectCgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import { importImages } from '../services/image-import.ts';
import { berthImageOperations } from '../services/image-operations.ts';
import { pullImage } from '../services/image-pull.ts';
import { berthRuntimeOperations } from '../services/runtime-operations.ts';
import { PodStreamBackend } from '../streaming/daemon/stream-backend.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { defineCommand } from './command.ts';
import { openImageSubsystem } from './daemon-images.ts';
import { DaemonMetrics, serveMetrics } from './daemon-metrics.ts';
import { openPodSubsystem, runtimeRoot } from './daemon-pods.ts';
import { type ProbeResult, probeOciRuntime } from './daemon-runtime-probe.ts';
import { startStreamingServer } from './daemon-streaming.ts';

const DEFAULT_CONFIG_FILE = '/etc/berth/config.toml';

export const daemonCommand = defineCommand({
  name: 'daemon',
  summary: 'Run the CRI runtime daemon',
  flags: {
    config: { type: 'string', short: 'c', value: 'FILE', help: `the config file (default ${DEFAULT_CONFIG_FILE} when it exists)` },
    'log-level': { type: 'string', short: 'l', value: 'LEVEL', help: "trace, debug, info, warn or error (default: the config's)" },
  },
  async run({ flags: values }) {
    const file = values.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
    const config = await loadConfig(file);
    if (values['log-level']) config.log_level = values['log-level'] as Config['log_level'];
    const logger = createLogger(config.log_level);
    return runDaemon(config, logger, file);
  },
});

async function claimPidFile(state: string): Promise<() => Promise<void>> {
  const pidFile = path.join(state, 'berth.pid');
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (pid > 0 && pid !== process.pid) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      const comm = alive ? await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '') : '';
      if (alive && comm.includes('daemon')) throw failedPrecondition('daemon-running', `another berth daemon (pid ${pid}) uses ${state}`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await writeFile(pidFile, `${process.pid}\n`);
  return () => rm(pidFile, { force: true });
}

/** The handlers to announce: the default one, and each other one whose runtime can run a container here. */
async function runnableHandlers(config: Config, logger: Logger): Promise<string[]> {
  const names = Object.keys(config.runtimes);
  const probeDir = path.join(config.state, 'probes');
  const probes = await Promise.all(
    names.map((name) =>
      name === config.default_runtime ? ({ ok: true } as ProbeResult) : probeOciRuntime(config.runtimes[name]!.binary, probeDir),
    ),
  );
  await rm(probeDir, { recursive: true, force: true });
  for (const [i, probe] of probes.entries()) {
    if (probe.ok) continue;
    const name = names[i]!;
    logger.warn(
      { handler: name, binary: config.runtimes[name]!.binary, reason: probe.message },
      'runtime handler left out: it cannot run containers here',
    );
  }
  return names.filter((_, i) => probes[i]!.ok);
}

export async function runDaemon(config: Config, logger: Logger, configFile?: string): Promise<number> {
  if (process.getuid?.() !== 0) throw failedPrecondition('not-root', 'berth daemon must run as root');
  await mkdir(config.root, { recursive: true, mode: 0o700 });
  // Searchable, not listable, as containerd's: a container in a user namespace reaches its bundle
  // through it; what must stay private (monitors, runc state) is 0700 below.
  await mkdir(config.state, { recursive: true, mode: 0o711 });
  const releasePid = await claimPidFile(config.state);
  logger.info({ config: configFile ?? '(defaults)', root: config.root, state: config.state }, 'starting berth daemon');

  const images = await openImageSubsystem(config, logger);
  const pods = await openPodSubsystem(config, images.meta, images.service, logger);
  const metrics = config.metrics.address === '' ? undefined : new DaemonMetrics(pods.store);
  if (metrics) {
    images.service.puller = metrics.meteredPuller(images.service.puller);
    for (const [name, runtime] of pods.runtimes) pods.runtimes.set(name, metrics.meteredRuntime(name, runtime));
  }
  const streaming = await startStreamingServer(
    config,
    logger,
    new PodStreamBackend({
      store: pods.store,
      config,
      runtimeRoot: (handler) => runtimeRoot(config, handler),
      workDir: path.join(config.state, 'streaming'),
    }),
  );
  const bindings = [
    ...criBindings({
      runtime: berthRuntimeOperations({
        config,
        pods,
        cgroups: await detectCgroupLayout(),
        streaming,
        runtimeHandlers: await runnableHandlers(config, logger),
      }),
      image: berthImageOperations(images.service, [config.sandbox_image]),
    }),
    bindService(
      Images,
      berthImagesHandlers({
        importArchive: (file, baseName, signal) => importImages(images.service, file, baseName, signal),
        pull: (ref, auth, signal, onEvent) => pullImage(images.service, ref, { auth, signal, onEvent }),
      }),
    ),
  ];
  const server = await startCriServer(config.socket, bindings, logger, metrics?.calls);
  const metricsServer = metrics ? await serveMetrics(config.metrics.address, metrics.registry, logger) : undefined;

  const stopped = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
  const signal = await stopped;
  logger.info({ signal }, 'shutting down');
  pods.events?.close(); // event streams would hold their connections open through the grace period
  await server.close();
  await metricsServer?.close();
  await streaming.close();
  images.close();
  await releasePid();
  logger.info('stopped');
  // Watchers of running containers (which go on running) would keep the event loop alive.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  process.exit(0);
}
