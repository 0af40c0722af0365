// berth node: static pods from a manifest directory and, in API-server mode, the pods the API
// server binds to the node, run through a provider. Only wires the parts together: the sources
// feed the pod controller, which drives the pod workers; the PLEG's relists and the prober's
// results make it sync; the pod statuses go to the node API and the API server.
import path from 'node:path';
import type { Logger } from '../util/logger.ts';
import { type ApiServerConnection, ApiServerSync } from './apiserver/api-server-sync.ts';
import { Dashboard } from './dashboard.ts';
import type { KubeEvent, Pod } from './k8s-types.ts';
import { podUid } from './k8s-types.ts';
import { NodeMetrics } from './metrics.ts';
import { type NodeApiListener, startNodeApi } from './node-http-api.ts';
import { Pleg } from './pleg.ts';
import { PodController } from './pod-controller.ts';
import { PodSources } from './pod-sources.ts';
import { PodStatuses } from './pod-statuses.ts';
import { Prober } from './probes/prober.ts';
import type { EventRecorder, PodProvider } from './provider.ts';
import type { ManifestProblem } from './static-pods/manifest-dir-source.ts';
import type { ManifestObjectStore } from './static-pods/manifest-object-store.ts';

export interface NodeTimings {
  /** PLEG relist period. Default 1 s. */
  relistMs: number;
  /** Every pod is synced at least this often. Default 60 s. */
  resyncMs: number;
  /** Manifest directory scan period. Default 1 s. */
  manifestScanMs: number;
  /** Retry delays after a failed provider call. Default 1 s doubling to 60 s. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often the dashboard samples stats and updates open pages. Default 5 s. */
  dashboardSampleMs: number;
}

export interface NodeOptions {
  nodeName: string;
  /** The node's address, reported as status.hostIP. */
  nodeIP?: string;
  /** The provider that runs the pods; the caller creates it and closes it after stop(). */
  provider: PodProvider;
  logger: Logger;
  /** Static pod manifests (kubelet --pod-manifest-path). */
  manifestDir?: string;
  /**
   * Standalone mode: where the manifest folder's ConfigMaps and Secrets go; hand the same store to
   * the provider as its `configMaps` and `secrets`. Without it such files are reported as unused.
   */
  manifestObjects?: ManifestObjectStore;
  /** API-server mode: pods bound to this node, the Node, its Lease, mirror pods, statuses, events. */
  apiServer?: ApiServerConnection;
  /** Where the node records events (probe failures); in API-server mode, the connection's recorder by default. */
  events?: EventRecorder;
  /** The node's recent events, served at the node API's /events (a NodeEventLog's list). */
  recentEvents?: (filter: { namespace?: string; name?: string; uid?: string }) => KubeEvent[];
  timings?: Partial<NodeTimings>;
  /**
   * Where the node API listens (node-http-api.ts): the authenticated HTTPS port, the read-only port,
   * the root-only socket. The first HTTPS listener that authenticates is the kubelet endpoint the
   * Node reports. Absent or empty: no API.
   */
  api?: NodeApiListener[];
  /** Aborting it stops the node, as stop() does. */
  signal?: AbortSignal;
}

export interface RunningNode {
  readonly nodeName: string;
  /** The port or socket of each listener of `api`, in its order. */
  readonly apiListening: { port?: number; socketPath?: string }[];
  /** The authenticated HTTPS port reported as the kubelet endpoint, when there is one. */
  readonly apiPort: number | undefined;
  /** The API-server side, in API-server mode. */
  readonly apiServer: ApiServerSync | undefined;
  /** The node's pods with their latest status, as the kubelet's /pods lists them. */
  pods(): Pod[];
  pod(namespace: string, name: string): Pod | undefined;
  /** Manifest files that are refused or have warnings. */
  manifestProblems(): ManifestProblem[];
  /** Stops watching and syncing; the pods keep running (as when a kubelet stops). Idempotent. */
  stop(): Promise<void>;
}

/** The dashboard page as the set-up builds it (web/ → web/dist). */
const DASHBOARD_ASSETS = path.resolve(import.meta.dirname, '../../web/dist');

const DEFAULT_TIMINGS: NodeTimings = {
  relistMs: 1000,
  resyncMs: 60_000,
  manifestScanMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
  dashboardSampleMs: 5000,
};

/** Starts the node; resolves once the sources were read the first time and the pods handed to their workers. */
export async function runNode(options: NodeOptions): Promise<RunningNode> {
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const { provider, logger, nodeName } = options;
  const events = options.events ?? options.apiServer?.events;
  const stopper = new AbortController();
  const signal = options.signal === undefined ? stopper.signal : AbortSignal.any([stopper.signal, options.signal]);

  const metrics = new NodeMetrics();
  const sources = new PodSources({
    nodeName,
    manifestDir: options.manifestDir,
    manifestObjects: options.manifestObjects,
    manifestScanMs: timings.manifestScanMs,
    fromApiServer: options.apiServer !== undefined,
    logger,
  });
  const controller = new PodController({
    provider,
    sources,
    logger,
    timings,
    signal,
    onCallDone: (operation, seconds, ok) => {
      metrics.podWorkerDuration.observe(seconds, { operation_type: operation });
      if (!ok) metrics.podWorkerErrors.inc({ operation_type: operation });
    },
  });
  const prober = new Prober({
    provider,
    logger,
    signal,
    events,
    onResultChanged: (uid) => controller.sync(uid),
    onProbe: ({ kind, result, pod, container }) =>
      metrics.probes.inc({
        probe_type: `${kind[0]!.toUpperCase()}${kind.slice(1)}`,
        result: result === 'success' ? 'successful' : result === 'failure' ? 'failed' : 'unknown',
        container,
        pod: pod.metadata.name ?? '',
        namespace: pod.metadata.namespace ?? 'default',
        pod_uid: pod.metadata.uid ?? '',
      }),
  });
  provider.useProbeResults?.((id, kind) => prober.result(id, kind));
  const pleg = new Pleg({
    provider,
    logger,
    intervalMs: timings.relistMs,
    onPodChanged: (uid) => controller.sync(uid),
    onRelistDone: (seconds, ok) => {
      metrics.relistDuration.observe(seconds);
      if (!ok) metrics.relistErrors.inc();
    },
    onRelist: (relisted, startedAt) => {
      controller.relisted(relisted, startedAt);
      const reported = new Map(relisted.filter((p) => p.status !== undefined).map((p) => [podUid(p), p.status]));
      prober.sync(controller.runningPods().map((pod) => ({ pod, status: reported.get(podUid(pod)) })));
    },
  });
  const statuses = new PodStatuses({
    reported: (uid) => pleg.status(uid),
    probeResults: (id, kind) => prober.result(id, kind),
    nodeIP: options.nodeIP,
  });
  controller.on('forgotten', (uid) => statuses.forget(uid));
  const pods = () => controller.pods().map((pod) => statuses.withStatus(pod));

  const listeners = options.api ?? [];
  const dashboard =
    listeners.length === 0
      ? undefined
      : new Dashboard({
          nodeName,
          pods,
          ...(options.recentEvents ? { events: options.recentEvents } : {}),
          ...(provider.getStatsSummary ? { stats: (s: AbortSignal) => provider.getStatsSummary!(s) } : {}),
          ...(provider.nodeStatus ? { nodeStatus: (s: AbortSignal) => provider.nodeStatus!(s) } : {}),
          assetsDir: DASHBOARD_ASSETS,
          logger: logger.child({ component: 'dashboard' }),
          sampleEveryMs: timings.dashboardSampleMs,
        });
  if (dashboard) void dashboard.run();
  const api =
    listeners.length === 0
      ? undefined
      : await startNodeApi({
          pods,
          nodeName,
          metrics: () => metrics.render(pods(), sources.manifestProblems().filter((p) => p.errors.length > 0).length),
          probeMetrics: () => metrics.renderProbes(),
          ...(options.recentEvents ? { events: options.recentEvents } : {}),
          provider,
          logger,
          listeners,
          ...(dashboard ? { dashboard } : {}),
        });
  const secure = listeners.findIndex((l) => l.tls !== undefined && l.access !== 'read-only');
  const apiPort = secure < 0 ? undefined : api?.listening[secure]?.port;

  const apiSync =
    options.apiServer === undefined
      ? undefined
      : new ApiServerSync({
          connection: options.apiServer,
          nodeName,
          nodeIP: options.nodeIP,
          apiPort,
          logger,
          provider,
          onPods: (listed) => sources.setApiPods(listed),
          nodePods: () => controller.pods(),
          podStatus: (pod) => statuses.status(pod),
        });
  if (apiSync !== undefined) controller.on('terminated', (pod) => apiSync.onTerminated(pod));

  const loops: Promise<void>[] = [];
  try {
    if (apiSync !== undefined) loops.push(...apiSync.start(signal));
    if (options.manifestDir !== undefined) {
      await sources.scanManifests(signal);
      loops.push(sources.runManifestScans(signal));
    }
  } catch (e) {
    stopper.abort();
    dashboard?.close();
    await api?.close();
    await Promise.allSettled(loops);
    throw e;
  }
  loops.push(pleg.run(signal));
  logger.info({ nodeName, manifestDir: options.manifestDir, apiServer: options.apiServer !== undefined }, 'node started');

  let stopping: Promise<void> | undefined;
  return {
    nodeName,
    apiListening: api?.listening ?? [],
    apiPort,
    apiServer: apiSync,
    pods,
    pod: (namespace, name) => {
      const pod = controller.pod(namespace, name);
      return pod === undefined ? undefined : statuses.withStatus(pod);
    },
    manifestProblems: () => sources.manifestProblems(),
    stop() {
      stopping ??= (async () => {
        stopper.abort();
        dashboard?.close();
        await api?.close();
        await Promise.allSettled(loops);
        await controller.idle();
        await options.apiServer?.events?.flush();
        logger.info({ nodeName }, 'node stopped');
      })();
      return stopping;
    },
  };
}
