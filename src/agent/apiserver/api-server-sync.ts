// API-server mode: everything the node does with a Kubernetes API server, wired together —
// register the Node and keep its status current, renew its Lease, watch the pods bound to it,
// keep mirror pods for its static pods, write pod statuses, and delete for good the pods that
// finished terminating after their deletion. The node core hands in its pods and their statuses.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../util/logger.ts';
import type { Pod, PodStatus } from '../k8s-types.ts';
import { podUid } from '../k8s-types.ts';
import type { PodProvider } from '../provider.ts';
import { CONFIG_SOURCE_ANNOTATION } from '../static-pods/static-pod-manifest.ts';
import type { ApiEventRecorder } from './api-events.ts';
import { ApiPodSource } from './api-pod-source.ts';
import { apiErrorMessage, type KubeApi } from './kube-api.ts';
import { currentMirror, isMirrorPod, MirrorPods } from './mirror-pods.ts';
import { NodeLease } from './node-lease.ts';
import { NodeStatusManager } from './node-status.ts';
import { PodStatusReporter, type StatusUpdate } from './pod-status-reporter.ts';

export interface ApiServerTimings {
  /** How often pod statuses and mirror pods are brought up to date. Default 1 s. */
  statusSyncMs: number;
  /** Node status check period. Default 10 s. */
  nodeStatusUpdateMs: number;
  /** Node status written at least this often. Default 5 min. */
  nodeStatusReportMs: number;
  /** Lease duration; renewed every quarter of it. Default 40 s. */
  leaseDurationSeconds: number;
  /** Pause before a failed list or watch is tried again. Default 1 s. */
  retryMs: number;
  /** How long one watch may last (server-side timeoutSeconds). Default 5 to 10 minutes. */
  watchTimeoutSeconds?: number;
}

/** What the node needs to work with an API server; the CLI makes it from a kubeconfig. */
export interface ApiServerConnection {
  api: KubeApi;
  /** Where events go; the same recorder the provider was given. */
  events?: ApiEventRecorder;
  timings?: Partial<ApiServerTimings>;
}

export interface ApiServerSyncOptions {
  connection: ApiServerConnection;
  nodeName: string;
  nodeIP?: string;
  apiPort?: number;
  logger: Logger;
  provider: PodProvider;
  /** The API's pods bound to the node changed (mirror pods are not among them). */
  onPods: (pods: Pod[]) => void;
  /** The pods the node has now: static pods and API pods. */
  nodePods: () => Pod[];
  /** A pod's status as the node reports it. */
  podStatus: (pod: Pod) => PodStatus;
}

const DEFAULT_TIMINGS: ApiServerTimings = {
  statusSyncMs: 1000,
  nodeStatusUpdateMs: 10_000,
  nodeStatusReportMs: 5 * 60_000,
  leaseDurationSeconds: 40,
  retryMs: 1000,
};

export function isStaticPod(pod: Pod): boolean {
  return pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION] === 'file';
}

export class ApiServerSync {
  readonly #options: ApiServerSyncOptions;
  readonly #timings: ApiServerTimings;
  readonly source: ApiPodSource;
  readonly nodeStatus: NodeStatusManager;
  readonly lease: NodeLease;
  readonly #mirrors: MirrorPods;
  readonly #reporter: PodStatusReporter;

  constructor(options: ApiServerSyncOptions) {
    this.#options = options;
    const { connection, nodeName, logger } = options;
    const { api, events } = connection;
    this.#timings = { ...DEFAULT_TIMINGS, ...connection.timings };
    const timings = this.#timings;
    this.source = new ApiPodSource({
      api,
      nodeName,
      logger: logger.child({ component: 'pod-watch' }),
      retryMs: timings.retryMs,
      ...(timings.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: () => timings.watchTimeoutSeconds! } : {}),
      onPods: (pods) => options.onPods(pods.filter((p) => !isMirrorPod(p))),
    });
    this.nodeStatus = new NodeStatusManager({
      api,
      nodeName,
      nodeIP: options.nodeIP,
      apiPort: options.apiPort,
      logger: logger.child({ component: 'node-status' }),
      provider: options.provider,
      timings: {
        updateMs: timings.nodeStatusUpdateMs,
        reportMs: timings.nodeStatusReportMs,
        registerRetryMs: Math.min(100, timings.retryMs),
      },
      ...(events ? { onEvent: (type, reason, message) => events.nodeEvent(type, reason, message) } : {}),
    });
    this.lease = new NodeLease({
      api,
      nodeName,
      logger: logger.child({ component: 'node-lease' }),
      durationSeconds: timings.leaseDurationSeconds,
      node: () => this.nodeStatus.node,
    });
    this.#mirrors = new MirrorPods({ api, logger: logger.child({ component: 'mirror-pods' }) });
    this.#reporter = new PodStatusReporter(api, logger.child({ component: 'pod-status' }));
  }

  get api(): KubeApi {
    return this.#options.connection.api;
  }

  /** Pod status patches written so far. */
  get statusPatches(): number {
    return this.#reporter.patches;
  }

  /** The API's pods bound to the node, mirror pods included. */
  apiPods(): Pod[] {
    return this.source.pods();
  }

  /** Starts every loop; each ends when `signal` aborts. */
  start(signal: AbortSignal): Promise<void>[] {
    const { logger } = this.#options;
    const registered = this.nodeStatus.register(signal).then(
      () => undefined,
      (e: unknown) => {
        if (!signal.aborted) logger.error({ err: e }, 'the node could not register');
      },
    );
    return [
      registered,
      this.nodeStatus.run(signal),
      registered.then(() => (signal.aborted ? undefined : this.lease.run(signal))),
      this.source.run(signal),
      this.#statusLoop(signal),
    ];
  }

  /** Resolves after the API's pods were listed the first time. */
  synced(): Promise<void> {
    return this.source.synced();
  }

  /** The node finished terminating `pod`: if the API deleted it, delete it for good. */
  onTerminated(pod: Pod): void {
    if (isStaticPod(pod) || !pod.metadata.deletionTimestamp) return;
    const listed = this.source.pods().find((p) => podUid(p) === podUid(pod));
    if (listed === undefined) return;
    this.#reporter.finishDeletion(pod).catch((e: unknown) => {
      this.#options.logger.warn(
        { err: apiErrorMessage(e), pod: `${pod.metadata.namespace}/${pod.metadata.name}` },
        'deleting a terminated pod failed',
      );
    });
  }

  /** One round: mirror pods for the static pods, then the statuses that changed. */
  async syncStatuses(): Promise<void> {
    const node = this.nodeStatus.node;
    const apiPods = this.source.pods();
    const mirrors = apiPods.filter(isMirrorPod);
    const nodePods = this.#options.nodePods();
    const staticPods = nodePods.filter(isStaticPod);
    if (node?.metadata.uid !== undefined) await this.#mirrors.sync(staticPods, mirrors, node);
    const byUid = new Map(apiPods.map((p) => [podUid(p), p]));
    const updates: StatusUpdate[] = [];
    for (const pod of nodePods) {
      const target = isStaticPod(pod) ? currentMirror(pod, mirrors) : byUid.get(podUid(pod));
      if (target !== undefined) updates.push({ target, status: this.#options.podStatus(pod) });
    }
    await this.#reporter.sync(updates);
  }

  async #statusLoop(signal: AbortSignal): Promise<void> {
    await Promise.race([this.source.synced(), new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    while (!signal.aborted) {
      try {
        await this.syncStatuses();
      } catch (e) {
        if (!signal.aborted) this.#options.logger.warn({ err: apiErrorMessage(e) }, 'syncing pod statuses failed');
      }
      await sleep(this.#timings.statusSyncMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
