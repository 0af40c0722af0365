// Pods and containers on a Docker Engine: RunPodSandbox through RemoveContainer. Docker holds every
// object and its state; the dockershim adds the sandbox checkpoints (for CNI DEL after a restart)
// and the CNI attachment records (which hold the pod's IPs).
import { readFile, writeFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { ContainerConfig, PodSandboxConfig } from '../cri-api/gen/runtime/v1/api_pb.js';
import { alreadyExists, failedPrecondition, invalidArgument, isBerthError, notFound, unimplemented } from '../errors/errors.ts';
import { type CniCacheRecord, listCachedAttachments } from '../network/cni.ts';
import { parseCniResult, podIps } from '../network/cni-result.ts';
import { pinNetworkNamespace, pinnedNetworkNamespace, podNamespacePaths, removePodNamespaces } from '../network/pod-namespaces.ts';
import type { NetworkPod, PodNetwork } from '../network/pod-network.ts';
import { withCleanup } from '../util/cleanup-stack.ts';
import type { Logger } from '../util/logger.ts';
import type { SandboxView } from './docker-convert.ts';
import { containerCreateOptions, sandboxCreateOptions } from './docker-create-config.ts';
import { type DockerEngine, dockerCall, engineMessage, isDockerNotFound } from './docker-engine.ts';
import { LOG_PATH_LABEL, parseSandboxName, SANDBOX_ID_LABEL, TYPE_LABEL } from './docker-labels.ts';
import type { SandboxCheckpoint, SandboxCheckpoints } from './sandbox-checkpoint.ts';

/** Where a container's output goes: the CRI log at its log_path. */
export interface ContainerLogSink {
  follow(containerId: string, logPath: string, tty: boolean): Promise<void>;
  reopen(containerId: string): Promise<void>;
  /** Resolves when the log of an ended container has all its output. */
  waitDrained(containerId: string): Promise<void>;
}

/** How long a status waits for the last output of an ended container to reach its log. */
const LOG_DRAIN_WAIT_MS = 2000;

export interface DockerPodsOptions {
  engine: DockerEngine;
  network: PodNetwork;
  /** The CNI attachment records of `network` (they hold the pods' IPs). */
  cniCacheDir: string;
  checkpoints: SandboxCheckpoints;
  /** Where each pod's network namespace is pinned (a bind mount per pod). */
  netnsRoot: string;
  sandboxImage: string;
  /** Pulls an image that is not on the engine (the sandbox image). */
  ensureImage(ref: string, signal?: AbortSignal): Promise<void>;
  seccompProfileRoot: string;
  logs?: ContainerLogSink;
  logger: Logger;
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
/** The grace a sandbox's pause process gets (cri-dockerd's). */
const SANDBOX_STOP_SECONDS = 10;

let ownOomScoreAdj: Promise<number> | undefined;
/** The dockershim's own oom_score_adj (the floor a pod's may be raised to): read once, it does not change. */
function oomScoreAdjFloor(): Promise<number> {
  ownOomScoreAdj ??= readFile('/proc/self/oom_score_adj', 'utf8').then(
    (t) => Number(t.trim()) || 0,
    () => 0,
  );
  return ownOomScoreAdj;
}

/** The pod IPs of a finished CNI ADD; none for an ADD that did not finish. */
function recordIps(r: CniCacheRecord): string[] {
  return r.complete && r.result ? podIps(parseCniResult(r.result), 'eth0') : [];
}

function networkPodOf(id: string, cp: Pick<SandboxCheckpoint, 'name' | 'namespace' | 'data'>, uid: string, netnsPath: string): NetworkPod {
  return {
    id,
    name: cp.name,
    namespace: cp.namespace,
    uid,
    netnsPath,
    portMappings: (cp.data?.port_mappings ?? []).map((p) => ({
      protocol: p.protocol ?? 'tcp',
      containerPort: p.container_port ?? 0,
      hostPort: p.host_port,
      hostIp: p.host_ip,
    })),
  };
}

/**
 * Docker's 409 for a name in use is the CRI's ALREADY_EXISTS, as berth daemon answers a taken
 * name; its 404 for the image is NOT_FOUND `image-not-found` (no image lookup before each create).
 */
async function createNamed(docker: Docker, options: Docker.ContainerCreateOptions, what: string): Promise<Docker.Container> {
  try {
    return await docker.createContainer(options);
  } catch (e) {
    if (isDockerNotFound(e) && /no such image/i.test(engineMessage(e))) {
      throw notFound('image-not-found', `${what}: image ${options.Image} is not on the node`, {
        cause: e,
        fields: { image: options.Image },
      });
    }
    if ((e as { statusCode?: number }).statusCode === 409) {
      throw alreadyExists('name-reserved', `${what}: the name ${options.name} is taken (${engineMessage(e)})`, {
        cause: e,
        fields: { name: options.name },
      });
    }
    return dockerCall(what, () => Promise.reject(e));
  }
}

export class DockerPods {
  readonly #o: DockerPodsOptions;
  #defaultRuntime: string | undefined;

  constructor(options: DockerPodsOptions) {
    this.#o = options;
  }

  get #docker(): Docker {
    return this.#o.engine.docker;
  }

  /** The engine's runtimes by name (RuntimeClass handlers) and its default. */
  async runtimes(): Promise<{ names: string[]; default: string }> {
    const info = await dockerCall('read the engine info', () => this.#docker.info());
    this.#defaultRuntime = info.DefaultRuntime;
    return { names: Object.keys(info.Runtimes ?? {}), default: info.DefaultRuntime };
  }

  async #inspect(id: string, what: 'sandbox' | 'container'): Promise<Docker.ContainerInspectInfo> {
    if (!id) throw invalidArgument('missing-id', `a ${what} ID is required`);
    try {
      const i = await this.#docker.getContainer(id).inspect();
      const type = i.Config.Labels?.[TYPE_LABEL];
      if (type === (what === 'sandbox' ? 'podsandbox' : 'container')) return i;
    } catch (e) {
      if (!isDockerNotFound(e)) await dockerCall(`inspect ${what} ${id}`, () => Promise.reject(e));
    }
    throw notFound(what === 'sandbox' ? 'sandbox-not-found' : 'container-not-found', `no ${what} ${id}`, { fields: { id } });
  }

  inspectSandbox(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.#inspect(id, 'sandbox');
  }

  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.#inspect(id, 'container');
  }

  /**
   * The container as its status reports it: an ended container once its output is in its log, as
   * conmon has it there before it records the exit (a client reads the log after it sees the exit).
   */
  async containerForStatus(id: string): Promise<Docker.ContainerInspectInfo> {
    const i = await this.inspectContainer(id);
    if (this.#o.logs && !i.State.Running && i.State.StartedAt && !i.State.StartedAt.startsWith('0001-')) {
      await Promise.race([this.#o.logs.waitDrained(i.Id), new Promise((resolve) => setTimeout(resolve, LOG_DRAIN_WAIT_MS).unref())]);
    }
    return i;
  }

  /** The IPs CNI gave the pod, first IPv4; empty for host network or before set-up. */
  async sandboxIps(id: string): Promise<string[]> {
    const records = await listCachedAttachments({ binDirs: [], cacheDir: this.#o.cniCacheDir }, id);
    return records.map(recordIps).find((ips) => ips.length > 0) ?? [];
  }

  /** The sandboxes whose network is set up (one read of the CNI records, for a list). */
  async networkedSandboxes(): Promise<Set<string>> {
    const records = await listCachedAttachments({ binDirs: [], cacheDir: this.#o.cniCacheDir });
    return new Set(records.filter((r) => recordIps(r).length > 0).map((r) => r.containerId));
  }

  /** What PodSandboxStatus shows of a sandbox: its IPs, whether its network is ready, its handler (one read of its CNI record). */
  async sandboxView(inspect: Docker.ContainerInspectInfo): Promise<SandboxView> {
    const hostNetwork = inspect.HostConfig.NetworkMode === 'host';
    const ips = hostNetwork ? [] : await this.sandboxIps(inspect.Id);
    return { inspect, ips, networkReady: hostNetwork || ips.length > 0, runtimeHandler: this.runtimeHandlerOf(inspect) };
  }

  runtimeHandlerOf(i: Pick<Docker.ContainerInspectInfo, 'HostConfig'>): string {
    const r = i.HostConfig.Runtime ?? '';
    return r === this.#defaultRuntime ? '' : r;
  }

  async #resolveRuntime(handler: string): Promise<string> {
    if (!handler) return '';
    const { names } = await this.runtimes();
    if (!names.includes(handler)) {
      throw invalidArgument('unknown-runtime-handler', `no runtime handler "${handler}" (the engine has: ${names.join(', ')})`, {
        fields: { handler },
      });
    }
    return handler;
  }

  async runPodSandbox(config: PodSandboxConfig, handler: string, signal?: AbortSignal): Promise<string> {
    const runtime = await this.#resolveRuntime(handler);
    const options = await sandboxCreateOptions({
      config,
      image: this.#o.sandboxImage,
      runtime,
      seccompProfileRoot: this.#o.seccompProfileRoot,
      oomScoreAdjFloor: await oomScoreAdjFloor(),
    });
    await this.#o.ensureImage(this.#o.sandboxImage, signal);
    const hostNetwork = options.HostConfig?.NetworkMode === 'host';
    return withCleanup(async (undo) => {
      const created = await createNamed(
        this.#docker,
        options,
        `create the sandbox of pod ${config.metadata?.namespace}/${config.metadata?.name}`,
      );
      const id = created.id;
      undo.push('remove the sandbox container', () =>
        this.#docker
          .getContainer(id)
          .remove({ force: true, v: true })
          .catch(() => {}),
      );
      const checkpoint = {
        name: config.metadata!.name,
        namespace: config.metadata!.namespace,
        data: {
          port_mappings: config.portMappings.map((p) => ({
            protocol: PROTOCOLS[p.protocol] ?? 'tcp',
            container_port: p.containerPort,
            host_port: p.hostPort,
            host_ip: p.hostIp,
          })),
          host_network: hostNetwork,
        },
      };
      await this.#o.checkpoints.write(id, checkpoint);
      undo.push('remove the checkpoint', () => this.#o.checkpoints.remove(id));
      await dockerCall(`start the sandbox ${id}`, () => created.start());
      const inspect = await dockerCall(`inspect the sandbox ${id}`, () => created.inspect());
      if (config.dnsConfig) await this.#writeResolvConf(inspect.ResolvConfPath, config.dnsConfig);
      if (!hostNetwork) {
        const netns = await pinNetworkNamespace(this.#o.netnsRoot, id, inspect.State.Pid);
        undo.push('unpin the network namespace', () => this.#unpinNetns(id));
        const pod = networkPodOf(id, checkpoint, config.metadata!.uid, netns);
        undo.push('tear the network down', () => this.#o.network.tearDown(pod));
        await this.#o.network.setUp(pod, signal);
      }
      return id;
    });
  }

  async #writeResolvConf(file: string, dns: NonNullable<PodSandboxConfig['dnsConfig']>): Promise<void> {
    if (!file) return;
    const lines = [
      ...dns.servers.map((s) => `nameserver ${s}`),
      ...(dns.searches.length > 0 ? [`search ${dns.searches.join(' ')}`] : []),
      ...(dns.options.length > 0 ? [`options ${dns.options.join(' ')}`] : []),
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
  }

  async #podContainers(sandboxId: string): Promise<Docker.ContainerInfo[]> {
    return dockerCall(`list the containers of pod ${sandboxId}`, () =>
      this.#docker.listContainers({ all: true, filters: { label: [`${SANDBOX_ID_LABEL}=${sandboxId}`] } }),
    );
  }

  #unpinNetns(id: string): Promise<void> {
    const paths = podNamespacePaths(this.#o.netnsRoot, id);
    return removePodNamespaces({ dir: paths.dir, net: paths.net });
  }

  /**
   * CNI DEL with the pinned namespace, which outlives the sandbox's process (its masquerade rules
   * go only while the bridge plugin can look inside); without a pin (after a reboot), the
   * process's, or none (the addresses are still released).
   */
  async #tearDownNetwork(id: string, uid: string, pid: number): Promise<void> {
    const cp = await this.#o.checkpoints.read(id);
    if (cp && !cp.data?.host_network) {
      const pinned = await pinnedNetworkNamespace(this.#o.netnsRoot, id);
      await this.#o.network.tearDown(networkPodOf(id, cp, uid, pinned ?? (pid > 0 ? `/proc/${pid}/ns/net` : '')));
    }
    await this.#unpinNetns(id);
  }

  /** Stops every container of the pod, undoes its network (before the netns goes) and stops the sandbox. */
  async stopPodSandbox(id: string): Promise<void> {
    let inspect: Docker.ContainerInspectInfo | undefined;
    try {
      inspect = await this.inspectSandbox(id);
    } catch (e) {
      // The container is gone but a checkpoint is left (removed behind our back): undo its network.
      if (isBerthError(e, 'not-found') && (await this.#o.checkpoints.read(id))) return this.#tearDownNetwork(id, '', 0);
      throw e;
    }
    for (const c of await this.#podContainers(id)) {
      if (c.State === 'running') await this.stopContainer(c.Id, 0);
    }
    const md = parseSandboxName(inspect.Name);
    await this.#tearDownNetwork(id, md?.uid ?? '', inspect.State.Running ? inspect.State.Pid : 0);
    if (inspect.State.Running) await this.#stop(inspect.Id, SANDBOX_STOP_SECONDS);
  }

  /** Removes the pod's containers, its sandbox and checkpoint; a pod that is gone already is no error. */
  async removePodSandbox(id: string): Promise<void> {
    let exists = true;
    try {
      await this.inspectSandbox(id);
    } catch (e) {
      if (!isBerthError(e, 'not-found')) throw e;
      exists = false;
    }
    if (exists) {
      await this.stopPodSandbox(id);
      for (const c of await this.#podContainers(id)) await this.removeContainer(c.Id);
      await dockerCall(`remove the sandbox ${id}`, () => this.#docker.getContainer(id).remove({ force: true, v: true })).catch((e) => {
        if (!isDockerNotFound(e)) throw e;
      });
    } else if (await this.#o.checkpoints.read(id)) {
      await this.#tearDownNetwork(id, '', 0);
    }
    await this.#o.checkpoints.remove(id);
  }

  async listSandboxes(filter: { id?: string; labels?: Record<string, string> }): Promise<Docker.ContainerInfo[]> {
    const label = [`${TYPE_LABEL}=podsandbox`, ...Object.entries(filter.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
    const all = await dockerCall('list sandboxes', () => this.#docker.listContainers({ all: true, filters: { label } }));
    return filter.id ? all.filter((c) => c.Id.startsWith(filter.id!)) : all;
  }

  async listContainers(filter: { id?: string; sandboxId?: string; labels?: Record<string, string> }): Promise<Docker.ContainerInfo[]> {
    const label = [`${TYPE_LABEL}=container`, ...Object.entries(filter.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
    if (filter.sandboxId) label.push(`${SANDBOX_ID_LABEL}=${filter.sandboxId}`);
    const all = await dockerCall('list containers', () => this.#docker.listContainers({ all: true, filters: { label } }));
    return filter.id ? all.filter((c) => c.Id.startsWith(filter.id!)) : all;
  }

  async createContainer(sandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig | undefined): Promise<string> {
    const sandbox = await this.inspectSandbox(sandboxId);
    const pod = parseSandboxName(sandbox.Name);
    if (!pod) throw notFound('sandbox-not-found', `no sandbox ${sandboxId}`);
    if (!sandbox.State.Running) {
      throw failedPrecondition('sandbox-not-ready', `pod ${pod.namespace}/${pod.name} is not running`, { fields: { id: sandboxId } });
    }
    const options = await containerCreateOptions({
      sandboxId: sandbox.Id,
      sandbox,
      pod,
      config,
      sandboxConfig,
      seccompProfileRoot: this.#o.seccompProfileRoot,
      oomScoreAdjFloor: await oomScoreAdjFloor(),
    });
    const created = await createNamed(
      this.#docker,
      options,
      `create container ${config.metadata?.name} in pod ${pod.namespace}/${pod.name}`,
    );
    return created.id;
  }

  async startContainer(id: string): Promise<void> {
    const i = await this.inspectContainer(id);
    await dockerCall(`start container ${id}`, () => this.#docker.getContainer(i.Id).start());
    const logPath = i.Config.Labels?.[LOG_PATH_LABEL];
    // Docker keeps the output until it is read: the follower misses nothing that came before it.
    if (logPath) await this.#o.logs?.follow(i.Id, logPath, i.Config.Tty);
  }

  /** Stops with `timeout` seconds of grace (the image's stop signal, then SIGKILL); a stopped container is no error. */
  async stopContainer(id: string, timeout: number): Promise<void> {
    const i = await this.inspectContainer(id);
    if (i.State.Running) await this.#stop(i.Id, Math.max(0, Math.floor(timeout)));
  }

  /** `docker stop` with `seconds` of grace; stopped (304) or gone (404) meanwhile is no error. */
  async #stop(id: string, seconds: number): Promise<void> {
    await this.#docker
      .getContainer(id)
      .stop({ t: seconds })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 304 && !isDockerNotFound(e)) return dockerCall(`stop ${id}`, () => Promise.reject(e));
      });
  }

  /** Removes the container, running or not; one that is gone already is no error. */
  async removeContainer(id: string): Promise<void> {
    let i: Docker.ContainerInspectInfo;
    try {
      i = await this.inspectContainer(id);
    } catch (e) {
      if (isBerthError(e, 'not-found')) return;
      throw e;
    }
    await this.#docker
      .getContainer(i.Id)
      .remove({ force: true, v: true })
      .catch((e: unknown) => (isDockerNotFound(e) ? undefined : dockerCall(`remove container ${id}`, () => Promise.reject(e))));
  }

  async updateContainerResources(
    id: string,
    r: {
      cpuShares?: number;
      cpuQuota?: number;
      cpuPeriod?: number;
      memory?: number;
      memorySwap?: number;
      cpusetCpus?: string;
      cpusetMems?: string;
    },
  ): Promise<void> {
    const i = await this.inspectContainer(id);
    await dockerCall(`update container ${id}`, () =>
      this.#docker.getContainer(i.Id).update({
        CpuShares: r.cpuShares || undefined,
        CpuQuota: r.cpuQuota || undefined,
        CpuPeriod: r.cpuPeriod || undefined,
        Memory: r.memory || undefined,
        MemorySwap: r.memorySwap || undefined,
        CpusetCpus: r.cpusetCpus || undefined,
        CpusetMems: r.cpusetMems || undefined,
      }),
    );
  }

  /** After a restart: the CRI logs of every container that ran are fed again from where they stopped. */
  async resumeLogs(): Promise<void> {
    const logs = this.#o.logs;
    if (!logs) return;
    for (const c of await this.listContainers({})) {
      const logPath = c.Labels[LOG_PATH_LABEL];
      if (!logPath || c.State === 'created') continue;
      const i = await this.inspectContainer(c.Id).catch(() => undefined);
      if (i)
        await logs
          .follow(i.Id, logPath, i.Config.Tty)
          .catch((err: unknown) => this.#o.logger.warn({ err, id: i.Id }, 'cannot resume the log'));
    }
  }

  async reopenContainerLog(id: string): Promise<void> {
    const i = await this.inspectContainer(id);
    if (!this.#o.logs) throw unimplemented('unimplemented', 'this dockershim writes no container logs');
    await this.#o.logs.reopen(i.Id);
  }
}
