// The `cri` provider: runs pods on any CRI runtime (berth daemon, containerd, CRI-O) the way the
// kubelet's kuberuntime manager does. Sync logic lives in pod-sync.ts and pod-actions.ts, status
// generation in pod-status.ts; this class keeps the per-pod memory and answers the contract.
import { rm } from 'node:fs/promises';
import type { Pod, PodStatus } from '../../agent/k8s-types.ts';
import { podFullName, podUid } from '../../agent/k8s-types.ts';
import type {
  ConfigMapSource,
  ContainerLogOptions,
  EventRecorder,
  ExecIO,
  ExecResult,
  KillContainerOptions,
  PodProvider,
  ProbeResultLookup,
  ProviderNodeStatus,
  SecretSource,
  ServiceAccountTokenSource,
  ServiceSource,
  SyncResult,
} from '../../agent/provider.ts';
import type { PodStats } from '../../agent/stats-summary.ts';
import type { CriClient } from '../../cri/cri-client.ts';
import { failedPrecondition, notFound } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import { notifyPodsFromContainerEvents } from './container-events-watch.ts';
import { ContainerLogRotator } from './container-log-rotation.ts';
import { readContainerLog } from './container-logs.ts';
import { BackOff } from './crash-back-off.ts';
import type { CriProviderSettings } from './cri-provider-settings.ts';
import { CriStatsReader } from './cri-stats.ts';
import { attachThroughRuntime, execThroughRuntime, portForwardThroughRuntime } from './cri-streaming.ts';
import { ImageGarbageCollector } from './image-gc.ts';
import { ImagePuller } from './image-puller.ts';
import { sidecarNames } from './init-container-actions.ts';
import { LifecycleHooks } from './lifecycle-hooks.ts';
import { containerIdUri, runtimePodStatus } from './pod-status.ts';
import { PodSync } from './pod-sync.ts';
import { gracePeriodSeconds, removePod, stopContainer } from './pod-teardown.ts';
import { type ObservedPod, RuntimeReader } from './runtime-reader.ts';
import { emptyPodState, newestContainer } from './runtime-state.ts';
import { podLogDirectory } from './sandbox-config.ts';
import { SyncReasons } from './sync-reasons.ts';
import { PodVolumes } from './volumes/pod-volumes.ts';

interface PodRecord {
  pod: Pod;
  status?: PodStatus;
}

export interface CriProviderOptions {
  cri: CriClient;
  settings: CriProviderSettings;
  logger: Logger;
  now?: () => number;
  events?: EventRecorder;
  secrets?: SecretSource;
  configMaps?: ConfigMapSource;
  tokens?: ServiceAccountTokenSource;
  services?: ServiceSource;
}

/** A pod the runtime holds but the node never handed over (left from before a restart): enough of a Pod to report and delete it. */
function orphanPod(state: ObservedPod): Pod {
  const names = [...new Set(state.containers.map((c) => c.name))];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: state.name, namespace: state.namespace, uid: state.uid },
    spec: {
      containers: names.map((name) => ({ name, image: state.containers.find((c) => c.name === name)?.image ?? '' })),
      restartPolicy: 'Never',
    },
  };
}

export class CriProvider implements PodProvider {
  readonly #cri: CriClient;
  readonly #settings: CriProviderSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #events: EventRecorder | undefined;
  readonly #records = new Map<string, PodRecord>();
  readonly #reasons = new SyncReasons();
  readonly #crashBackOff: BackOff;
  readonly #imageBackOff: BackOff;
  readonly #reader: RuntimeReader;
  #stats: CriStatsReader | undefined;
  readonly #sync: PodSync;
  /** Removes unused images when the image filesystem fills up; runs until close(). */
  readonly #imageGc: ImageGarbageCollector;
  readonly #closing = new AbortController();
  readonly #hooks: LifecycleHooks;
  readonly #volumes: PodVolumes;
  #probeResults: ProbeResultLookup | undefined;

  constructor(options: CriProviderOptions) {
    this.#cri = options.cri;
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#events = options.events;
    this.#crashBackOff = new BackOff(undefined, this.#now);
    this.#imageBackOff = new BackOff(undefined, this.#now);
    this.#reader = new RuntimeReader(this.#cri.runtime, this.#settings.callTimeoutMs);
    this.#volumes = new PodVolumes({
      rootDir: this.#settings.rootDir,
      nodeMemoryBytes: this.#settings.nodeMemoryBytes,
      nodeAllocatable: this.#settings.nodeAllocatable,
      secrets: options.secrets,
      configMaps: options.configMaps,
      tokens: options.tokens,
      reasons: this.#reasons,
      events: options.events,
      logger: this.#logger,
    });
    const puller = new ImagePuller({
      image: this.#cri.image,
      backOff: this.#imageBackOff,
      logger: this.#logger,
      callTimeoutMs: this.#settings.callTimeoutMs,
      pullTimeoutMs: this.#settings.pullTimeoutMs,
      now: this.#now,
      secrets: options.secrets,
      events: options.events,
    });
    this.#hooks = new LifecycleHooks({
      runtime: this.#cri.runtime,
      logger: this.#logger,
      events: options.events,
      nodeIP: this.#settings.nodeIP,
      callTimeoutMs: this.#settings.callTimeoutMs,
      now: this.#now,
    });
    this.#sync = new PodSync({
      runtime: this.#cri.runtime,
      reader: this.#reader,
      puller,
      crashBackOff: this.#crashBackOff,
      reasons: this.#reasons,
      settings: this.#settings,
      logger: this.#logger,
      now: this.#now,
      events: options.events,
      envSources: {
        secrets: options.secrets,
        configMaps: options.configMaps,
        services: options.services,
        allocatable: this.#settings.nodeAllocatable,
      },
      volumes: this.#volumes,
      hooks: this.#hooks,
      startupSucceeded: (c) => this.#probeResults?.(containerIdUri(c.id, this.#settings.runtimeName), 'startup') === 'success',
    });
    this.#imageGc = new ImageGarbageCollector({
      runtime: this.#cri.runtime,
      image: this.#cri.image,
      policy: this.#settings.imageGc,
      logger: this.#logger,
      callTimeoutMs: this.#settings.callTimeoutMs,
      nodeEvent: (type, reason, message) => options.events?.nodeEvent?.(type, reason, message),
    });
    void this.#imageGc.run(this.#closing.signal);
    const logRotator = new ContainerLogRotator({
      runtime: this.#cri.runtime,
      policy: this.#settings.logRotation,
      logger: this.#logger.child({ component: 'log-rotation' }),
      callTimeoutMs: this.#settings.callTimeoutMs,
    });
    void logRotator.run(this.#closing.signal);
  }

  async createPod(pod: Pod, signal: AbortSignal): Promise<SyncResult> {
    return this.updatePod(pod, signal);
  }

  async updatePod(pod: Pod, signal: AbortSignal): Promise<SyncResult> {
    const record = this.#records.get(podUid(pod));
    if (record === undefined) this.#records.set(podUid(pod), { pod });
    else record.pod = pod;
    this.#crashBackOff.gc();
    this.#imageBackOff.gc();
    return this.#sync.sync(pod, signal);
  }

  useProbeResults(results: ProbeResultLookup): void {
    this.#probeResults = results;
  }

  async deletePod(pod: Pod, signal: AbortSignal): Promise<void> {
    const uid = podUid(pod);
    const state = await this.#reader.pod(uid, signal);
    const graceSeconds = gracePeriodSeconds(pod, state);
    if (state.sandboxes.length > 0 || state.containers.length > 0) {
      this.#logger.info({ pod: podFullName(pod), uid, graceSeconds }, 'stopping and removing the pod');
    }
    for (const c of state.containers) {
      if (c.state === 'running') this.#events?.podEvent(pod, 'Normal', 'Killing', `Stopping container ${c.name}`, c.name);
    }
    await removePod(this.#cri.runtime, state, {
      graceSeconds,
      callTimeoutMs: this.#settings.callTimeoutMs,
      signal,
      preStop: this.#hooks.preStopRunner(pod, state),
      sidecars: sidecarNames(pod),
    });
    const named = pod.metadata.name ? pod : { ...pod, metadata: { ...pod.metadata, name: state.name, namespace: state.namespace } };
    if (named.metadata.name) await rm(podLogDirectory(this.#settings.podLogsRoot, named), { recursive: true, force: true });
    await this.#volumes.tearDown(uid, signal);
    this.#records.delete(uid);
    this.#reasons.forget(uid);
    this.#crashBackOff.forget(`${uid}/`);
    this.#imageBackOff.forget(`${uid}_`);
  }

  async getPods(signal: AbortSignal): Promise<Pod[]> {
    const observed = await this.#reader.allPods(signal);
    const pods: Pod[] = [];
    for (const [uid, state] of observed) pods.push(this.#withStatus(uid, state));
    for (const uid of this.#records.keys()) if (!observed.has(uid)) pods.push(this.#withStatus(uid, emptyPodState(uid)));
    return pods;
  }

  async getPod(namespace: string, name: string, signal: AbortSignal): Promise<Pod | undefined> {
    const record = [...this.#records.values()]
      .reverse()
      .find((r) => r.pod.metadata.namespace === namespace && r.pod.metadata.name === name);
    if (record !== undefined) {
      const uid = podUid(record.pod);
      return this.#withStatus(uid, await this.#reader.pod(uid, signal));
    }
    const observed = await this.#reader.allPods(signal);
    for (const [uid, state] of observed) if (state.namespace === namespace && state.name === name) return this.#withStatus(uid, state);
    return undefined;
  }

  async getPodStatus(namespace: string, name: string, signal: AbortSignal): Promise<PodStatus | undefined> {
    return (await this.getPod(namespace, name, signal))?.status;
  }

  /** The evented PLEG: a pod's status is pushed as soon as the runtime's container events name it (relisting only without them). */
  notifyPods(onPodChanged: (pod: Pod) => void, signal: AbortSignal): void {
    const readPod = async (uid: string, s: AbortSignal) => {
      const state = await this.#reader.pod(uid, s);
      const known = this.#records.has(uid) || state.sandboxes.length > 0 || state.containers.length > 0;
      return known ? this.#withStatus(uid, state) : undefined;
    };
    const readAll = (s: AbortSignal) => this.getPods(s);
    void notifyPodsFromContainerEvents({ runtime: this.#cri.runtime, logger: this.#logger, readPod, readAll, onPodChanged }, signal);
  }

  /** The container's log file (`previous`: the run before the newest), read as the kubelet serves it. */
  async getContainerLogs(
    namespace: string,
    podName: string,
    containerName: string,
    options: ContainerLogOptions,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>> {
    const { pod, state } = await this.#find(namespace, podName, signal);
    const runs = state.containers.filter((c) => c.name === containerName);
    const run = options.previous ? runs[1] : runs[0];
    if (run === undefined) {
      throw notFound(
        'container-not-found',
        `${options.previous ? 'previous terminated ' : ''}container "${containerName}" in pod "${podName}" not found`,
        {
          fields: { namespace, pod: podName, container: containerName },
        },
      );
    }
    const file = `${podLogDirectory(this.#settings.podLogsRoot, pod)}/${containerName}/${run.restartCount}.log`;
    const stillRunning = async () => {
      const now = await this.#reader.pod(state.uid, signal);
      return now.containers.find((c) => c.id === run.id)?.state === 'running';
    };
    return readContainerLog(file, { ...options, follow: options.follow === true && !options.previous }, stillRunning, signal);
  }

  /**
   * Runs a command in the running container: with a timeout (exec probes) through ExecSync, the
   * output handed over once it ends; otherwise streamed through the runtime's streaming server.
   */
  async runInContainer(
    namespace: string,
    podName: string,
    containerName: string,
    command: string[],
    io: ExecIO,
    signal: AbortSignal,
  ): Promise<ExecResult> {
    const container = await this.#runningContainer(namespace, podName, containerName, signal);
    const timeoutSeconds = io.timeoutSeconds ?? 0;
    if (timeoutSeconds === 0) {
      const streaming = { runtime: this.#cri.runtime, callTimeoutMs: this.#settings.callTimeoutMs };
      return { exitCode: await execThroughRuntime(streaming, container.id, command, io, signal) };
    }
    const response = await this.#cri.runtime.execSync(
      { containerId: container.id, cmd: command, timeout: BigInt(timeoutSeconds) },
      { signal, timeoutMs: timeoutSeconds * 1000 + 5000 },
    );
    if (response.stdout.length > 0) await io.stdout?.(response.stdout);
    if (response.stderr.length > 0) await io.stderr?.(response.stderr);
    return { exitCode: response.exitCode };
  }

  /** Attaches to the running container's main process through the runtime's streaming server. */
  async attachToContainer(namespace: string, podName: string, containerName: string, io: ExecIO, signal: AbortSignal): Promise<void> {
    const container = await this.#runningContainer(namespace, podName, containerName, signal);
    await attachThroughRuntime({ runtime: this.#cri.runtime, callTimeoutMs: this.#settings.callTimeoutMs }, container.id, io, signal);
  }

  /** One connection to a port in the pod's network, through the runtime's PortForward. */
  async portForward(
    namespace: string,
    podName: string,
    port: number,
    stream: { readable: AsyncIterable<Uint8Array>; write(chunk: Uint8Array): void | Promise<void> },
    signal: AbortSignal,
  ): Promise<void> {
    const { state } = await this.#find(namespace, podName, signal);
    const sandbox = state.sandboxes[0];
    if (sandbox === undefined || !sandbox.ready) {
      throw failedPrecondition('sandbox-not-ready', `pod "${namespace}/${podName}" has no running sandbox`, {
        fields: { namespace, pod: podName },
      });
    }
    const streaming = { runtime: this.#cri.runtime, callTimeoutMs: this.#settings.callTimeoutMs };
    await portForwardThroughRuntime(streaming, sandbox.id, port, stream, signal);
  }

  /** The pods' CPU and memory from the runtime's stats (the Summary API's pods). */
  async getStatsSummary(signal: AbortSignal): Promise<PodStats[]> {
    this.#stats ??= new CriStatsReader(this.#cri.runtime, this.#settings.callTimeoutMs);
    return this.#stats.read(await this.#reader.allPods(signal), signal);
  }

  async #runningContainer(namespace: string, podName: string, containerName: string, signal: AbortSignal) {
    const { state } = await this.#find(namespace, podName, signal);
    const container = newestContainer(state, containerName);
    if (container === undefined || container.state !== 'running') {
      throw notFound('container-not-running', `container "${containerName}" in pod "${podName}" is not running`, {
        fields: { namespace, pod: podName, container: containerName },
      });
    }
    return container;
  }

  /** Stops the newest running instance of the container (a liveness or startup probe failed). */
  async killContainer(pod: Pod, containerName: string, options: KillContainerOptions, signal: AbortSignal): Promise<void> {
    const state = await this.#reader.pod(podUid(pod), signal);
    const container = newestContainer(state, containerName);
    if (container === undefined || container.state !== 'running') return;
    this.#logger.info(
      { pod: podFullName(pod), container: containerName, containerId: container.id, graceSeconds: options.graceSeconds },
      options.reason,
    );
    this.#events?.podEvent(pod, 'Normal', 'Killing', options.reason, containerName);
    await stopContainer(this.#cri.runtime, container, {
      graceSeconds: options.graceSeconds,
      callTimeoutMs: this.#settings.callTimeoutMs,
      signal,
      preStop: this.#hooks.preStopRunner(pod, state),
    });
  }

  async #find(namespace: string, name: string, signal: AbortSignal): Promise<{ pod: Pod; state: ObservedPod }> {
    const record = [...this.#records.values()]
      .reverse()
      .find((r) => r.pod.metadata.namespace === namespace && r.pod.metadata.name === name);
    if (record !== undefined) return { pod: record.pod, state: await this.#reader.pod(podUid(record.pod), signal) };
    for (const state of (await this.#reader.allPods(signal)).values()) {
      if (state.namespace === namespace && state.name === name) return { pod: orphanPod(state), state };
    }
    throw notFound('pod-not-found', `pod "${namespace}/${name}" not found`, { fields: { namespace, pod: name } });
  }

  /** The runtime's version and readiness (CRI Status: RuntimeReady and NetworkReady), for the Node's status. */
  async nodeStatus(signal: AbortSignal): Promise<ProviderNodeStatus> {
    const options = { signal, timeoutMs: this.#settings.callTimeoutMs };
    const [version, status] = await Promise.all([
      this.#cri.runtime.version({ version: 'v1' }, options),
      this.#cri.runtime.status({}, options),
    ]);
    const runtimeVersion = `${version.runtimeName}://${version.runtimeVersion}`;
    const runtimeHandlers = status.runtimeHandlers.map((h) => ({
      name: h.name,
      features: Object.entries({ recursiveReadOnlyMounts: h.features?.recursiveReadOnlyMounts, userNamespaces: h.features?.userNamespaces })
        .filter(([, on]) => on)
        .map(([f]) => f),
    }));
    const conditions = status.status?.conditions ?? [];
    const notReady = ['RuntimeReady', 'NetworkReady']
      .map((type) => ({ type, condition: conditions.find((c) => c.type === type) }))
      .filter(({ condition }) => condition === undefined || !condition.status);
    if (notReady.length === 0) return { runtimeVersion, ready: true, runtimeHandlers };
    const what = notReady.some((n) => n.type === 'RuntimeReady') ? 'container runtime' : 'container runtime network';
    const detail = notReady
      .map(({ type, condition }) => `${type}=false reason:${condition?.reason ?? ''} message:${condition?.message ?? 'missing'}`)
      .join(', ');
    return { runtimeVersion, ready: false, message: `${what} not ready: ${detail}`, runtimeHandlers };
  }

  /** Unmounts and removes the pod directories (volumes) of pods the node no longer has (the kubelet's cleanupOrphanedPodDirs). */
  async cleanupPods(activeUids: ReadonlySet<string>, signal: AbortSignal): Promise<void> {
    const keep = new Set([...activeUids, ...this.#records.keys()]);
    const removed = await this.#volumes.removeOrphans(keep, signal);
    if (removed.length > 0) this.#logger.info({ uids: removed }, 'removed the volumes of pods the node no longer has');
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#cri.close();
  }

  #withStatus(uid: string, state: ObservedPod): Pod {
    const record = this.#records.get(uid);
    const pod = record?.pod ?? orphanPod(state);
    // A container whose postStart hook still runs is not reported yet, as the kubelet's sync is still starting it.
    const reported = { ...state, containers: state.containers.filter((c) => !this.#hooks.isStarting(c.id)) };
    const status = runtimePodStatus(
      {
        pod,
        state: reported,
        reasons: this.#reasons.forPod(uid),
        previous: record?.status,
        hostIP: this.#settings.nodeIP,
        now: this.#now(),
      },
      this.#settings.runtimeName,
    );
    if (record !== undefined) record.status = status;
    return { ...pod, status };
  }
}
