// berth node: static pods from a manifest directory and, in API-server mode, the pods the API
// server binds to the node, run through a provider. Wires the sources, the pod workers, the PLEG
// and the prober; holds the desired pods and their latest status.
import path from 'node:path';
import type { Logger } from '../util/logger.ts';
import { type ApiServerConnection, ApiServerSync } from './apiserver/api-server-sync.ts';
import { Dashboard } from './dashboard.ts';
import { initialPodStatus } from './initial-pod-status.ts';
import { k8sTime } from './k8s-time.ts';
import type { KubeEvent, Pod, PodCondition } from './k8s-types.ts';
import { podFullName, podUid } from './k8s-types.ts';
import { NodeMetrics } from './metrics.ts';
import { type NodeApiServer, startNodeApi } from './node-http-api.ts';
import { repeatEvery } from './periodic.ts';
import { Pleg } from './pleg.ts';
import { PodWorkers } from './pod-workers.ts';
import { withProbeResults } from './probes/probe-status.ts';
import { Prober } from './probes/prober.ts';
import type { EventRecorder, PodProvider } from './provider.ts';
import { ManifestDirSource, type ManifestProblem } from './static-pods/manifest-dir-source.ts';
import type { ManifestObjectStore } from './static-pods/manifest-object-store.ts';
import { CONFIG_SEEN_ANNOTATION } from './static-pods/static-pod-manifest.ts';
import { canonicalJson } from './static-pods/static-pod-uid.ts';

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
  /** Serve the node HTTP API (/healthz, /pods, /metrics, /containerLogs) on loopback at this port; 0 picks one. Absent: no API. */
  apiPort?: number;
  /** Aborting it stops the node, as stop() does. */
  signal?: AbortSignal;
}

export interface RunningNode {
  readonly nodeName: string;
  /** The node API's port, when it serves one. */
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

const DEFAULT_TIMINGS: NodeTimings = {
  relistMs: 1000,
  resyncMs: 60_000,
  manifestScanMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
  dashboardSampleMs: 5000,
};

/** What makes two versions of a pod differ for its worker: everything but status, versions and when it was seen. */
function specKey(pod: Pod): string {
  const { [CONFIG_SEEN_ANNOTATION]: _seen, ...annotations } = pod.metadata.annotations ?? {};
  const { resourceVersion: _version, managedFields: _fields, ...metadata } = pod.metadata as Pod['metadata'] & { managedFields?: unknown };
  return canonicalJson({ metadata: { ...metadata, annotations }, spec: pod.spec });
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Starts the node; resolves once the sources were read the first time and the pods handed to their workers. */
/** The dashboard page as the set-up builds it (web/ → web/dist). */
const DASHBOARD_ASSETS = path.resolve(import.meta.dirname, '../../web/dist');

export async function runNode(options: NodeOptions): Promise<RunningNode> {
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const { provider, logger, nodeName } = options;
  const events = options.events ?? options.apiServer?.events;
  const controller = new AbortController();
  const signal = options.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, options.signal]);

  /** The pods the node has, by UID: running, or terminating after their deletion. */
  const desired = new Map<string, Pod>();
  const specKeys = new Map<string, string>();
  /** When pods were last terminated, so that a relist that began before cannot bring them back as orphans. */
  const terminatedAt = new Map<string, number>();
  let staticPods: Pod[] = [];
  let apiPods: Pod[] = [];
  /** Every source was read once: pods the provider runs that no source has are orphans from then on. */
  let sourcesReady = false;
  let apiSync: ApiServerSync | undefined;
  /** Deleted pods the node has stopped, until the API lets them go: not started or stopped again. */
  const finishedDeletions = new Set<string>();

  const metrics = new NodeMetrics();
  const workers = new PodWorkers({
    provider,
    logger,
    timings,
    signal,
    onTerminated: (pod) => {
      const uid = podUid(pod);
      terminatedAt.set(uid, Date.now());
      if (pod.metadata.deletionTimestamp && desired.get(uid)?.metadata.deletionTimestamp) {
        finishedDeletions.add(uid);
        desired.delete(uid);
        specKeys.delete(uid);
        probedConditions.delete(uid);
      }
      apiSync?.onTerminated(pod);
    },
    onCallDone: (operation, seconds, ok) => {
      metrics.podWorkerDuration.observe(seconds, { operation_type: operation });
      if (!ok) metrics.podWorkerErrors.inc({ operation_type: operation });
    },
  });
  const prober = new Prober({ provider, logger, signal, events, onResultChanged: (uid) => workers.sync(uid) });
  provider.useProbeResults?.((id, kind) => prober.result(id, kind));
  const probedConditions = new Map<string, PodCondition[]>();
  const pleg = new Pleg({
    provider,
    logger,
    intervalMs: timings.relistMs,
    onPodChanged: (uid) => workers.sync(uid),
    onRelistDone: (seconds, ok) => {
      metrics.relistDuration.observe(seconds);
      if (!ok) metrics.relistErrors.inc();
    },
    onRelist: (pods, startedAt) => {
      for (const [uid, at] of terminatedAt) if (at < startedAt - 60_000) terminatedAt.delete(uid);
      if (sourcesReady) {
        const inApi = new Set(apiPods.map(podUid));
        for (const pod of pods) {
          const uid = podUid(pod);
          if (desired.has(uid) || inApi.has(uid) || workers.isTerminating(uid) || (terminatedAt.get(uid) ?? 0) >= startedAt) continue;
          logger.info({ pod: podFullName(pod), uid }, 'stopping a pod the node no longer has');
          workers.terminate(pod);
        }
      }
      if (sourcesReady) cleanUpPods(pods);
      prober.sync(
        [...desired.values()].filter((p) => !p.metadata.deletionTimestamp).map((pod) => ({ pod, status: pleg.status(podUid(pod)) })),
      );
    },
  });

  /** The provider's clean-up of what pods leave outside the runtime; one at a time, in the background. */
  let cleaning: Promise<void> | undefined;
  const cleanUpPods = (relisted: Pod[]): void => {
    if (provider.cleanupPods === undefined || cleaning !== undefined) return;
    const active = new Set([...desired.keys(), ...apiPods.map(podUid), ...relisted.map(podUid), ...workers.uids()]);
    cleaning = provider
      .cleanupPods(active, signal)
      .catch((e: unknown) => {
        if (!signal.aborted) logger.warn({ err: e }, 'cleaning up after pods failed; trying again after the next relist');
      })
      .finally(() => {
        cleaning = undefined;
      });
  };

  const setDesired = (pods: Pod[]): void => {
    const uids = new Set(pods.map(podUid));
    for (const [uid, pod] of desired) {
      if (uids.has(uid)) continue;
      desired.delete(uid);
      specKeys.delete(uid);
      probedConditions.delete(uid);
      logger.info({ pod: podFullName(pod), uid }, 'pod removed from the node');
      workers.terminate(pod);
    }
    for (const pod of pods) {
      const uid = podUid(pod);
      const known = desired.has(uid);
      desired.set(uid, pod);
      if (pod.metadata.deletionTimestamp) {
        // Deleted in the API: stop it within its grace period; it is deleted for good once gone.
        if (!workers.isTerminating(uid)) {
          logger.info({ pod: podFullName(pod), uid, grace: pod.metadata.deletionGracePeriodSeconds }, 'pod deleted: stopping it');
          workers.terminate(pod);
        }
        specKeys.delete(uid);
        continue;
      }
      const key = specKey(pod);
      if (specKeys.get(uid) === key) continue;
      if (!known) logger.info({ pod: podFullName(pod), uid }, 'pod added to the node');
      specKeys.set(uid, key);
      workers.update(pod);
    }
  };

  /** Static pods, and the API's pods — but not those that had finished before the node first saw them. */
  const updateDesired = (): void => {
    const listed = new Set(apiPods.map(podUid));
    for (const uid of finishedDeletions) if (!listed.has(uid)) finishedDeletions.delete(uid);
    const fromApi = apiPods.filter((p) => !finishedDeletions.has(podUid(p)) && (desired.has(podUid(p)) || !isTerminal(p)));
    setDesired([...staticPods, ...fromApi]);
  };

  const hasProbes = (pod: Pod) =>
    [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some(
      (c) => c.readinessProbe !== undefined || c.startupProbe !== undefined,
    );
  const withStatus = (pod: Pod): Pod => {
    const uid = podUid(pod);
    const reported = pleg.status(uid);
    if (reported === undefined) {
      const seen = pod.metadata.annotations?.[CONFIG_SEEN_ANNOTATION] ?? pod.metadata.creationTimestamp ?? k8sTime();
      return { ...pod, status: initialPodStatus(pod, seen, options.nodeIP) };
    }
    if (!hasProbes(pod)) return { ...pod, status: reported };
    const status = withProbeResults(pod, reported, (id, kind) => prober.result(id, kind), probedConditions.get(uid), k8sTime());
    probedConditions.set(uid, status.conditions ?? []);
    return { ...pod, status };
  };
  const pods = () => [...desired.values()].map(withStatus);

  let api: NodeApiServer | undefined;
  let dashboard: Dashboard | undefined;
  if (options.apiPort !== undefined) {
    const metricsText = () => metrics.render(pods(), manifests?.problems().filter((p) => p.errors.length > 0).length ?? 0);
    dashboard = new Dashboard({
      nodeName,
      pods,
      ...(options.recentEvents ? { events: options.recentEvents } : {}),
      ...(provider.getStatsSummary ? { stats: (signal) => provider.getStatsSummary!(signal) } : {}),
      ...(provider.nodeStatus ? { nodeStatus: (signal) => provider.nodeStatus!(signal) } : {}),
      assetsDir: DASHBOARD_ASSETS,
      sampleEveryMs: timings.dashboardSampleMs,
      logger: logger.child({ component: 'dashboard' }),
    });
    void dashboard.run();
    api = await startNodeApi({
      dashboard,
      pods,
      nodeName,
      metrics: metricsText,
      ...(options.recentEvents ? { events: options.recentEvents } : {}),
      provider,
      logger,
      port: options.apiPort,
    });
  }

  const manifests =
    options.manifestDir === undefined
      ? undefined
      : new ManifestDirSource({ dir: options.manifestDir, nodeName, logger, objects: options.manifestObjects });
  const loops: Promise<void>[] = [];
  try {
    if (options.apiServer !== undefined) {
      apiSync = new ApiServerSync({
        connection: options.apiServer,
        nodeName,
        nodeIP: options.nodeIP,
        apiPort: api?.port,
        logger,
        provider,
        onPods: (listed) => {
          apiPods = listed;
          updateDesired();
        },
        nodePods: () => [...desired.values()],
        podStatus: (pod) => withStatus(pod).status!,
      });
      loops.push(...apiSync.start(signal));
    }
    if (manifests !== undefined) {
      staticPods = await manifests.scan(signal);
      updateDesired();
      loops.push(
        repeatEvery(
          timings.manifestScanMs,
          signal,
          async () => {
            staticPods = await manifests.scan(signal);
            updateDesired();
          },
          (e) => logger.error({ err: e, dir: options.manifestDir }, 'reading static pod manifests failed'),
        ),
      );
    }
    if (apiSync !== undefined) {
      // Orphans are only known once the API's pods are: wait for the first list (without holding up the start).
      const synced = apiSync.synced();
      void synced.then(() => {
        sourcesReady = true;
      });
    } else {
      sourcesReady = true;
    }
  } catch (e) {
    controller.abort();
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
    apiPort: api?.port,
    apiServer: apiSync,
    pods,
    pod: (namespace, name) => {
      const pod = [...desired.values()].find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
      return pod === undefined ? undefined : withStatus(pod);
    },
    manifestProblems: () => manifests?.problems() ?? [],
    stop() {
      stopping ??= (async () => {
        controller.abort();
        dashboard?.close();
        await api?.close();
        await Promise.allSettled(loops);
        await workers.idle();
        await cleaning;
        await options.apiServer?.events?.flush();
        logger.info({ nodeName }, 'node stopped');
      })();
      return stopping;
    },
  };
}
