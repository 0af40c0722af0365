// berth dockershim: the CRI on a Docker Engine. Builds the engine client, the pods on it, CNI and
// the streaming server, serves the CRI on its own socket, stops on SIGTERM. Docker keeps the
// pods; a restart of the dockershim (or a kill -9) finds them all again.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { type Config, loadConfig } from '../config/config.ts';
import { criBindings, startCriServer } from '../cri/server.ts';
import { ImageStatusRequestSchema, PullImageRequestSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { DockerCriEvents } from '../docker/docker-cri-events.ts';
import { connectDockerEngine } from '../docker/docker-engine.ts';
import { dockerExecSync } from '../docker/docker-exec-sync.ts';
import { dockerImageOperations } from '../docker/docker-image-operations.ts';
import { DockerLogForwarder } from '../docker/docker-log-forwarder.ts';
import { DockerPods } from '../docker/docker-pods.ts';
import { dockerRuntimeOperations } from '../docker/docker-runtime-operations.ts';
import { DockerStreamBackend } from '../docker/docker-stream-backend.ts';
import { SandboxCheckpoints } from '../docker/sandbox-checkpoint.ts';
import { failedPrecondition } from '../errors/errors.ts';
import { CniPodNetwork } from '../network/pod-network.ts';
import { detectCgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { defineCommand } from './command.ts';
import { startStreamingServer } from './daemon-streaming.ts';

const DEFAULT_CONFIG_FILE = '/etc/berth/dockershim.toml';

export const dockershimCommand = defineCommand({
  name: 'dockershim',
  summary: 'Serve the CRI on top of a Docker Engine (as cri-dockerd does)',
  flags: {
    config: { type: 'string', short: 'c', value: 'FILE', help: `the config file (default ${DEFAULT_CONFIG_FILE} when it exists)` },
    'docker-host': { type: 'string', value: 'URL', help: 'the Docker Engine (default unix:///var/run/docker.sock)' },
    socket: { type: 'string', value: 'PATH', help: 'the CRI socket (default /run/berth/dockershim.sock)' },
    'log-level': { type: 'string', short: 'l', value: 'LEVEL', help: "trace, debug, info, warn or error (default: the config's)" },
  },
  async run({ flags }) {
    const file = flags.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
    const config = await loadConfig(file);
    if (flags['docker-host']) config.dockershim.docker_host = flags['docker-host'];
    if (flags.socket) config.dockershim.socket = path.resolve(flags.socket);
    if (flags['log-level']) config.log_level = flags['log-level'] as Config['log_level'];
    return runDockershim(config, createLogger(config.log_level), file);
  },
});

export async function runDockershim(config: Config, logger: Logger, configFile?: string): Promise<number> {
  if (process.getuid?.() !== 0) throw failedPrecondition('not-root', 'berth dockershim must run as root');
  const { docker_host: dockerHost, socket, root } = config.dockershim;
  await mkdir(root, { recursive: true, mode: 0o700 });
  await mkdir(path.dirname(socket), { recursive: true, mode: 0o711 });
  const engine = await connectDockerEngine(dockerHost);
  logger.info(
    { config: configFile ?? '(defaults)', dockerHost, engine: engine.engineVersion, api: engine.apiVersion, socket, root },
    'starting berth dockershim',
  );
  const cniCacheDir = path.join(root, 'cni');
  const network = new CniPodNetwork({ confDir: config.cni.conf_dir, binDirs: config.cni.bin_dirs, cacheDir: cniCacheDir });
  const image = dockerImageOperations({ engine, registries: config.registries, pinnedImages: [config.sandbox_image] });
  // The sandbox image is pulled when a pod needs it and the engine lacks it, as cri-dockerd does.
  const ensureImage = async (ref: string, signal?: AbortSignal): Promise<void> => {
    const context = { signal: signal ?? new AbortController().signal };
    const status = await image.imageStatus!(create(ImageStatusRequestSchema, { image: { image: ref } }), context);
    if (!status.image) await image.pullImage!(create(PullImageRequestSchema, { image: { image: ref } }), context);
  };
  const logs = new DockerLogForwarder({ engine, logger });
  const pods = new DockerPods({
    engine,
    network,
    cniCacheDir,
    checkpoints: new SandboxCheckpoints(root),
    netnsRoot: path.join(root, 'netns'),
    sandboxImage: config.sandbox_image,
    ensureImage,
    seccompProfileRoot: config.seccomp_profile_root,
    logs,
    logger,
  });
  await pods.runtimes(); // the engine's default runtime, which pods report as the empty handler
  await pods.resumeLogs();
  const events = new DockerCriEvents({ engine, pods, logger, bufferSize: config.container_events_buffer });
  await events.start();
  const info = await engine.docker.info();
  const streaming = await startStreamingServer(config, logger, new DockerStreamBackend({ engine }));
  const runtime = dockerRuntimeOperations({
    engine,
    pods,
    network,
    streaming,
    execSync: (container, cmd, timeoutMs, signal) => dockerExecSync(engine, container, cmd, timeoutMs, signal),
    stats: { cgroups: await detectCgroupLayout(), imageFs: info.DockerRootDir },
    verboseConfig: config,
  });
  const server = await startCriServer(socket, criBindings({ runtime: { ...runtime, ...events.operations() }, image }), logger);
  const signal = await new Promise<string>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
  });
  logger.info({ signal }, 'shutting down');
  events.close(); // event streams would hold their connections open through the grace period
  await server.close();
  await streaming.close();
  await logs.close();
  logger.info('stopped');
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  process.exit(0);
}
