// The node's pod controller (virtual-kubelet's PodController, the kubelet's sync loop): turns what
// the sources want into work for the pod workers. Holds the pods the node has (running, or
// terminating after their deletion), hands a pod to its worker only when its spec changed, stops
// pods that left their source or were deleted in the API, stops after every relist the pods the
// provider runs that no source has (orphans), and has the provider clean up after gone pods.
import { EventEmitter } from 'node:events';
import type { Logger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { podFullName, podUid } from './k8s-types.ts';
import { PodWorkers, type PodWorkersOptions, type PodWorkerTimings } from './pod-workers.ts';
import type { PodHousekeeper, PodLifecycleHandler } from './provider.ts';
import { CONFIG_SEEN_ANNOTATION } from './static-pods/static-pod-manifest.ts';
import { canonicalJson } from './static-pods/static-pod-uid.ts';

/** What the controller reads of the pod sources (a PodSources). */
export interface DesiredPodSources {
  staticPods(): Pod[];
  apiPods(): Pod[];
  allSeen(): boolean;
  onChange(listener: () => void): void;
}

export interface PodControllerOptions {
  provider: PodLifecycleHandler & Partial<PodHousekeeper>;
  sources: DesiredPodSources;
  logger: Logger;
  timings: PodWorkerTimings;
  /** Aborting it stops every worker and the clean-up. */
  signal: AbortSignal;
  /** After every provider call (metrics). */
  onCallDone?: PodWorkersOptions['onCallDone'];
}

export interface PodControllerEvents {
  /** The provider's deletePod of the pod succeeded. */
  terminated: [pod: Pod];
  /** The pod is no longer the node's: what is kept about it may go. */
  forgotten: [uid: string];
}

/** How long a termination keeps a relist that began before it from counting the pod as an orphan. */
const TERMINATED_MEMORY_MS = 60_000;

/** What makes two versions of a pod differ for its worker: everything but status, versions and when it was seen. */
export function specKey(pod: Pod): string {
  const { [CONFIG_SEEN_ANNOTATION]: _seen, ...annotations } = pod.metadata.annotations ?? {};
  const { resourceVersion: _version, managedFields: _fields, ...metadata } = pod.metadata as Pod['metadata'] & { managedFields?: unknown };
  return canonicalJson({ metadata: { ...metadata, annotations }, spec: pod.spec });
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

export class PodController extends EventEmitter<PodControllerEvents> {
  readonly #options: PodControllerOptions;
  readonly #workers: PodWorkers;
  /** The pods the node has, by UID: running, or terminating after their deletion. */
  readonly #desired = new Map<string, Pod>();
  readonly #specKeys = new Map<string, string>();
  /** When pods were last terminated, so that a relist that began before cannot bring them back as orphans. */
  readonly #terminatedAt = new Map<string, number>();
  /** Deleted pods the node has stopped, until the API lets them go: not started or stopped again. */
  readonly #finishedDeletions = new Set<string>();
  /** The provider's clean-up in flight: one at a time, in the background. */
  #cleaning: Promise<void> | undefined;

  constructor(options: PodControllerOptions) {
    super();
    this.#options = options;
    const { provider, logger, timings, signal, onCallDone } = options;
    this.#workers = new PodWorkers({
      provider,
      logger,
      timings,
      signal,
      onTerminated: (pod) => this.#onTerminated(pod),
      ...(onCallDone ? { onCallDone } : {}),
    });
    options.sources.onChange(() => this.#sourcesChanged());
  }

  /** The node's pods, as the sources gave them (no status of the node's own). */
  pods(): Pod[] {
    return [...this.#desired.values()];
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.pods().find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
  }

  /** The node's pods that are not being deleted (those the prober probes). */
  runningPods(): Pod[] {
    return this.pods().filter((p) => !p.metadata.deletionTimestamp);
  }

  /** Asks for a sync of this pod soon (its status changed). */
  sync(uid: string): void {
    this.#workers.sync(uid);
  }

  /** After every relist, with every pod the provider runs and when the relist began (ms since the epoch). */
  relisted(pods: Pod[], startedAt: number): void {
    for (const [uid, at] of this.#terminatedAt) if (at < startedAt - TERMINATED_MEMORY_MS) this.#terminatedAt.delete(uid);
    if (!this.#options.sources.allSeen()) return;
    const { logger } = this.#options;
    const inApi = new Set(this.#options.sources.apiPods().map(podUid));
    for (const pod of pods) {
      const uid = podUid(pod);
      if (this.#desired.has(uid) || inApi.has(uid) || this.#workers.isTerminating(uid) || (this.#terminatedAt.get(uid) ?? 0) >= startedAt) {
        continue;
      }
      logger.info({ pod: podFullName(pod), uid }, 'stopping a pod the node no longer has');
      this.#workers.terminate(pod);
    }
    this.#cleanUp(pods);
  }

  /** Waits for the provider calls in flight to end (after the signal aborted them). */
  async idle(): Promise<void> {
    await this.#workers.idle();
    await this.#cleaning;
  }

  /** Static pods, and the API's pods — but not those that had finished before the node first saw them. */
  #sourcesChanged(): void {
    const { sources } = this.#options;
    const apiPods = sources.apiPods();
    const listed = new Set(apiPods.map(podUid));
    for (const uid of this.#finishedDeletions) if (!listed.has(uid)) this.#finishedDeletions.delete(uid);
    const fromApi = apiPods.filter((p) => !this.#finishedDeletions.has(podUid(p)) && (this.#desired.has(podUid(p)) || !isTerminal(p)));
    this.#setDesired([...sources.staticPods(), ...fromApi]);
  }

  #setDesired(pods: Pod[]): void {
    const { logger } = this.#options;
    const uids = new Set(pods.map(podUid));
    for (const [uid, pod] of this.#desired) {
      if (uids.has(uid)) continue;
      this.#forget(uid);
      logger.info({ pod: podFullName(pod), uid }, 'pod removed from the node');
      this.#workers.terminate(pod);
    }
    for (const pod of pods) {
      const uid = podUid(pod);
      const known = this.#desired.has(uid);
      this.#desired.set(uid, pod);
      if (pod.metadata.deletionTimestamp) {
        // Deleted in the API: stop it within its grace period; it is deleted for good once gone.
        if (!this.#workers.isTerminating(uid)) {
          logger.info({ pod: podFullName(pod), uid, grace: pod.metadata.deletionGracePeriodSeconds }, 'pod deleted: stopping it');
          this.#workers.terminate(pod);
        }
        this.#specKeys.delete(uid);
        continue;
      }
      const key = specKey(pod);
      if (this.#specKeys.get(uid) === key) continue;
      if (!known) logger.info({ pod: podFullName(pod), uid }, 'pod added to the node');
      this.#specKeys.set(uid, key);
      this.#workers.update(pod);
    }
  }

  #onTerminated(pod: Pod): void {
    const uid = podUid(pod);
    this.#terminatedAt.set(uid, Date.now());
    if (pod.metadata.deletionTimestamp && this.#desired.get(uid)?.metadata.deletionTimestamp) {
      this.#finishedDeletions.add(uid);
      this.#forget(uid);
    }
    this.emit('terminated', pod);
  }

  #forget(uid: string): void {
    this.#desired.delete(uid);
    this.#specKeys.delete(uid);
    this.emit('forgotten', uid);
  }

  /** The provider's clean-up of what pods leave outside the runtime, for every pod but those the node still has. */
  #cleanUp(relisted: Pod[]): void {
    const { provider, sources, signal, logger } = this.#options;
    if (provider.cleanupPods === undefined || this.#cleaning !== undefined) return;
    const active = new Set([...this.#desired.keys(), ...sources.apiPods().map(podUid), ...relisted.map(podUid), ...this.#workers.uids()]);
    this.#cleaning = provider
      .cleanupPods(active, signal)
      .catch((e: unknown) => {
        if (!signal.aborted) logger.warn({ err: e }, 'cleaning up after pods failed; trying again after the next relist');
      })
      .finally(() => {
        this.#cleaning = undefined;
      });
  }
}
