// One worker per pod UID: calls to the provider for a pod never overlap, the latest spec wins,
// syncs repeat when asked (status change, resync period, a provider's resyncAfterMs) and failed
// calls are retried with a growing delay. A pod replaced by another with the same name (a static
// pod whose manifest changed) starts only after the old one is gone.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { podFullName, podUid } from './k8s-types.ts';
import type { PodLifecycleHandler, SyncResult } from './provider.ts';

export interface PodWorkerTimings {
  /** Sync every pod at least this often. */
  resyncMs: number;
  /** First delay after a failed call; doubles up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface PodWorkersOptions {
  provider: PodLifecycleHandler;
  logger: Logger;
  timings: PodWorkerTimings;
  /** Aborting it stops every worker and cancels calls in flight. */
  signal: AbortSignal;
  /** Called when a pod's deletePod succeeded. */
  onTerminated?: (pod: Pod) => void;
  /** Called after every provider call, with how long it took and whether it succeeded (metrics). */
  onCallDone?: (operation: 'create' | 'update' | 'delete', seconds: number, ok: boolean) => void;
}

interface Worker {
  pod: Pod;
  created: boolean;
  terminating: boolean;
  dirty: boolean;
  failures: number;
  /** The pod came back while terminating (a static pod's manifest restored): start it again once gone. */
  restartWith?: Pod;
  loop?: Promise<void>;
  timer?: NodeJS.Timeout;
  done: PromiseWithResolvers<void>;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function untilDoneOrAborted(done: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void done.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

export class PodWorkers {
  readonly #options: PodWorkersOptions;
  readonly #workers = new Map<string, Worker>();

  constructor(options: PodWorkersOptions) {
    this.#options = options;
  }

  /**
   * Creates the pod, or brings it to this spec. A pod that is terminating finishes terminating and
   * then starts again (the kubelet's restartRequested for static pods).
   */
  update(pod: Pod): void {
    const uid = podUid(pod);
    const worker = this.#workers.get(uid);
    if (worker === undefined) {
      this.#workers.set(uid, this.#newWorker(pod, false));
    } else if (!worker.terminating) {
      worker.pod = pod;
    } else {
      worker.restartWith = pod;
      return;
    }
    this.sync(uid);
  }

  /** Stops and removes the pod; also for pods the provider runs that no worker created (orphans). */
  terminate(pod: Pod): void {
    const uid = podUid(pod);
    let worker = this.#workers.get(uid);
    if (worker === undefined) {
      worker = this.#newWorker(pod, true);
      this.#workers.set(uid, worker);
    }
    worker.restartWith = undefined;
    if (worker.terminating) return;
    // The latest object: a deletion's grace period (metadata.deletionGracePeriodSeconds) counts.
    worker.pod = pod;
    worker.terminating = true;
    this.sync(uid);
  }

  /** Asks for a sync of this pod soon (its status changed). */
  sync(uid: string): void {
    const worker = this.#workers.get(uid);
    if (worker === undefined) return;
    worker.dirty = true;
    this.#kick(uid, worker);
  }

  has(uid: string): boolean {
    return this.#workers.has(uid);
  }

  /** The pods that have a worker: running, or terminating until their deletePod succeeds. */
  uids(): string[] {
    return [...this.#workers.keys()];
  }

  isTerminating(uid: string): boolean {
    return this.#workers.get(uid)?.terminating === true;
  }

  /** Resolves when the pod's deletePod has succeeded. */
  terminated(uid: string): Promise<void> {
    return this.#workers.get(uid)?.done.promise ?? Promise.resolve();
  }

  /** Waits for the calls in flight to end (after the signal aborted them). */
  async idle(): Promise<void> {
    for (const worker of this.#workers.values()) clearTimeout(worker.timer);
    await Promise.allSettled([...this.#workers.values()].map((w) => w.loop));
  }

  #newWorker(pod: Pod, created: boolean): Worker {
    return { pod, created, terminating: false, dirty: false, failures: 0, done: Promise.withResolvers<void>() };
  }

  #kick(uid: string, worker: Worker): void {
    clearTimeout(worker.timer);
    worker.timer = undefined;
    if (worker.loop !== undefined || this.#options.signal.aborted) return;
    worker.loop = this.#run(uid, worker).finally(() => {
      worker.loop = undefined;
      if (worker.dirty && this.#workers.get(uid) === worker) this.#kick(uid, worker);
    });
  }

  async #run(uid: string, worker: Worker): Promise<void> {
    while (worker.dirty && !this.#options.signal.aborted) {
      worker.dirty = false;
      if (worker.terminating) await this.#terminateStep(uid, worker);
      else await this.#syncStep(uid, worker);
    }
  }

  async #syncStep(uid: string, worker: Worker): Promise<void> {
    const { provider, logger, signal, timings } = this.#options;
    const pod = worker.pod;
    await this.#waitForNamesake(uid, pod);
    if (signal.aborted || worker.terminating) {
      worker.dirty ||= worker.terminating;
      return;
    }
    const operation = worker.created ? 'update' : 'create';
    const started = performance.now();
    try {
      const result: SyncResult | undefined =
        (worker.created ? await provider.updatePod(pod, signal) : await provider.createPod(pod, signal)) ?? undefined;
      this.#options.onCallDone?.(operation, (performance.now() - started) / 1000, true);
      worker.created = true;
      worker.failures = 0;
      this.#schedule(uid, worker, Math.min(result?.resyncAfterMs ?? timings.resyncMs, timings.resyncMs));
    } catch (e) {
      if (signal.aborted) return;
      this.#options.onCallDone?.(operation, (performance.now() - started) / 1000, false);
      worker.failures++;
      const delay = this.#retryDelay(worker.failures);
      logger.error(
        { pod: podFullName(pod), uid, err: errorText(e), retryInMs: delay },
        `sync of pod ${podFullName(pod)} failed: ${errorText(e)}`,
      );
      this.#schedule(uid, worker, delay);
    }
  }

  async #terminateStep(uid: string, worker: Worker): Promise<void> {
    const { provider, logger, signal } = this.#options;
    const started = performance.now();
    try {
      await provider.deletePod(worker.pod, signal);
      this.#options.onCallDone?.('delete', (performance.now() - started) / 1000, true);
      this.#workers.delete(uid);
      logger.info({ pod: podFullName(worker.pod), uid }, 'pod terminated');
      worker.done.resolve();
      this.#options.onTerminated?.(worker.pod);
      if (worker.restartWith !== undefined) {
        logger.info({ pod: podFullName(worker.pod), uid }, 'pod added again while terminating: starting it again');
        this.update(worker.restartWith);
      }
    } catch (e) {
      if (signal.aborted) return;
      this.#options.onCallDone?.('delete', (performance.now() - started) / 1000, false);
      worker.failures++;
      const delay = this.#retryDelay(worker.failures);
      logger.error(
        { pod: podFullName(worker.pod), uid, err: errorText(e), retryInMs: delay },
        `termination of pod ${podFullName(worker.pod)} failed: ${errorText(e)}`,
      );
      await sleep(delay, undefined, { signal, ref: false }).catch(() => undefined);
      worker.dirty = true;
    }
  }

  /** Another pod with this pod's namespace/name that is terminating must be gone first. */
  async #waitForNamesake(uid: string, pod: Pod): Promise<void> {
    const name = podFullName(pod);
    for (const [otherUid, other] of this.#workers) {
      if (otherUid !== uid && other.terminating && podFullName(other.pod) === name) {
        await untilDoneOrAborted(other.done.promise, this.#options.signal);
      }
    }
  }

  #retryDelay(failures: number): number {
    const { retryBaseMs, retryMaxMs } = this.#options.timings;
    return Math.min(retryBaseMs * 2 ** (failures - 1), retryMaxMs);
  }

  #schedule(uid: string, worker: Worker, delayMs: number): void {
    clearTimeout(worker.timer);
    worker.timer = setTimeout(() => this.sync(uid), Math.max(0, delayMs));
    worker.timer.unref();
  }
}
