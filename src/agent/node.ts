// berth node in standalone mode: static pods from a manifest directory, run through a provider.
// Wires the manifest source, the pod workers and the PLEG; holds the desired pods and their latest status.
import type { Logger } from '../util/logger.ts';
import { initialPodStatus } from './initial-pod-status.ts';
import { k8sTime } from './k8s-time.ts';
import type { Pod, PodCondition } from './k8s-types.ts';
import { podFullName, podUid } from './k8s-types.ts';
import { NodeMetrics } from './metrics.ts';
import { type NodeApiServer, startNodeApi } from './node-http-api.ts';
import { repeatEvery } from './periodic.ts';
import { Pleg } from './pleg.ts';
import { PodWorkers } from './pod-workers.ts';
import { withProbeResults } from './probes/probe-status.ts';
import { Prober } from './probes/prober.ts';
import type { PodProvider } from './provider.ts';
import { ManifestDirSource, type ManifestProblem } from './static-pods/manifest-dir-source.ts';
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
  timings?: Partial<NodeTimings>;
  /** Serve the node HTTP API (/healthz, /pods, /containerLogs) on loopback at this port; 0 picks one. Absent: no API. */
  apiPort?: number;
  /** Aborting it stops the node, as stop() does. */
  signal?: AbortSignal;
}

export interface RunningNode {
  readonly nodeName: string;
  /** The node API's port, when it serves one. */
  readonly apiPort: number | undefined;
  /** The node's pods with their latest status, as the kubelet's /pods lists them. */
  pods(): Pod[];
  pod(namespace: string, name: string): Pod | undefined;
  /** Manifest files that are refused or have warnings. */
  manifestProblems(): ManifestProblem[];
  /** Stops watching and syncing; the pods keep running (as when a kubelet stops). Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_TIMINGS: NodeTimings = { relistMs: 1000, resyncMs: 60_000, manifestScanMs: 1000, retryBaseMs: 1000, retryMaxMs: 60_000 };

/** What makes two versions of a pod differ for its worker: everything but status and when it was seen. */
function specKey(pod: Pod): string {
  const { [CONFIG_SEEN_ANNOTATION]: _seen, ...annotations } = pod.metadata.annotations ?? {};
  return canonicalJson({ metadata: { ...pod.metadata, annotations }, spec: pod.spec });
}

/** Starts the node; resolves once the manifests were read the first time and the pods handed to their workers. */
export async function runNode(options: NodeOptions): Promise<RunningNode> {
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const { provider, logger, nodeName } = options;
  const controller = new AbortController();
  const signal = options.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, options.signal]);

  const desired = new Map<string, Pod>();
  const specKeys = new Map<string, string>();
  /** When pods were last terminated, so that a relist that began before cannot bring them back as orphans. */
  const terminatedAt = new Map<string, number>();
  const metrics = new NodeMetrics();
  const workers = new PodWorkers({
    provider,
    logger,
    timings,
    signal,
    onTerminated: (pod) => terminatedAt.set(podUid(pod), Date.now()),
    onCallDone: (operation, seconds, ok) => {
      metrics.podWorkerDuration.observe(seconds, { operation_type: operation });
      if (!ok) metrics.podWorkerErrors.inc({ operation_type: operation });
    },
  });
  const prober = new Prober({ provider, logger, signal });
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
      for (const pod of pods) {
        const uid = podUid(pod);
        if (!desired.has(uid) && !workers.isTerminating(uid) && (terminatedAt.get(uid) ?? 0) < startedAt) {
          logger.info({ pod: podFullName(pod), uid }, 'stopping a pod the node no longer has');
          workers.terminate(pod);
        }
      }
      prober.sync([...desired.values()].map((pod) => ({ pod, status: pleg.status(podUid(pod)) })));
    },
  });

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
      const key = specKey(pod);
      desired.set(uid, pod);
      if (specKeys.get(uid) === key) continue;
      if (!specKeys.has(uid)) logger.info({ pod: podFullName(pod), uid }, 'pod added to the node');
      specKeys.set(uid, key);
      workers.update(pod);
    }
  };

  const manifests = options.manifestDir === undefined ? undefined : new ManifestDirSource({ dir: options.manifestDir, nodeName, logger });
  const loops: Promise<void>[] = [];
  if (manifests !== undefined) {
    setDesired(await manifests.scan(signal));
    loops.push(
      repeatEvery(
        timings.manifestScanMs,
        signal,
        async () => setDesired(await manifests.scan(signal)),
        (e) => logger.error({ err: e, dir: options.manifestDir }, 'reading static pod manifests failed'),
      ),
    );
  }
  loops.push(pleg.run(signal));
  logger.info({ nodeName, manifestDir: options.manifestDir }, 'node started');

  const hasProbes = (pod: Pod) => pod.spec.containers.some((c) => c.readinessProbe !== undefined || c.startupProbe !== undefined);
  const withStatus = (pod: Pod): Pod => {
    const uid = podUid(pod);
    const reported = pleg.status(uid);
    if (reported === undefined)
      return { ...pod, status: initialPodStatus(pod, pod.metadata.annotations?.[CONFIG_SEEN_ANNOTATION] ?? k8sTime(), options.nodeIP) };
    if (!hasProbes(pod)) return { ...pod, status: reported };
    const status = withProbeResults(pod, reported, (id, kind) => prober.result(id, kind), probedConditions.get(uid), k8sTime());
    probedConditions.set(uid, status.conditions ?? []);
    return { ...pod, status };
  };

  const pods = () => [...desired.values()].map(withStatus);
  let api: NodeApiServer | undefined;
  if (options.apiPort !== undefined) {
    try {
      const metricsText = () =>
        metrics.render(pods(), manifests?.problems().filter((p) => p.errors.length > 0).length ?? 0);
      api = await startNodeApi({ pods, metrics: metricsText, provider, logger, port: options.apiPort });
    } catch (e) {
      controller.abort();
      await Promise.allSettled(loops);
      throw e;
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    nodeName,
    apiPort: api?.port,
    pods,
    pod: (namespace, name) => {
      const pod = [...desired.values()].find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
      return pod === undefined ? undefined : withStatus(pod);
    },
    manifestProblems: () => manifests?.problems() ?? [],
    stop() {
      stopping ??= (async () => {
        controller.abort();
        await api?.close();
        await Promise.allSettled(loops);
        await workers.idle();
        logger.info({ nodeName }, 'node stopped');
      })();
      return stopping;
    },
  };
}
