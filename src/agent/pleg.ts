// The pod lifecycle event generator: relists the provider's pods on a period (and listens to its
// notifications when it has them), keeps the latest status of each, and reports which pods'
// container states changed since the last look.
import type { Logger } from '../util/logger.ts';
import type { Pod, PodStatus } from './k8s-types.ts';
import { podUid } from './k8s-types.ts';
import { repeatEvery } from './periodic.ts';
import { hasNotifier, type PodProvider } from './provider.ts';

export interface PlegOptions {
  provider: PodProvider;
  logger: Logger;
  intervalMs: number;
  /** Every relist, with every pod the provider runs, and when the relist began (ms since the epoch). */
  onRelist: (pods: Pod[], startedAt: number) => void;
  /** A pod appeared, disappeared or one of its containers changed state. */
  onPodChanged: (uid: string) => void;
  /** After every relist, with how long it took and whether it succeeded (metrics). */
  onRelistDone?: (seconds: number, ok: boolean) => void;
}

/** What counts as a change: container identities, states, restart counts, readiness, the pod's IP and phase. */
export function statusFingerprint(status: PodStatus | undefined): string {
  if (status === undefined) return '';
  const containers = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].map((c) => [
    c.name,
    c.containerID ?? '',
    c.restartCount,
    c.ready,
    c.state.running
      ? 'running'
      : c.state.terminated
        ? `terminated:${c.state.terminated.exitCode}`
        : `waiting:${c.state.waiting?.reason ?? ''}`,
  ]);
  return JSON.stringify([status.phase ?? '', status.podIP ?? '', containers]);
}

export class Pleg {
  readonly #options: PlegOptions;
  #fingerprints = new Map<string, string>();
  #statuses = new Map<string, PodStatus>();
  #failing = false;

  constructor(options: PlegOptions) {
    this.#options = options;
  }

  /** The latest status the provider reported for the pod. */
  status(uid: string): PodStatus | undefined {
    return this.#statuses.get(uid);
  }

  async relist(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    const started = performance.now();
    let pods: Pod[];
    try {
      pods = await this.#options.provider.getPods(signal);
    } catch (e) {
      if (!signal.aborted) this.#options.onRelistDone?.((performance.now() - started) / 1000, false);
      throw e;
    }
    this.#options.onRelistDone?.((performance.now() - started) / 1000, true);
    const fingerprints = new Map<string, string>();
    const statuses = new Map<string, PodStatus>();
    for (const pod of pods) {
      const uid = podUid(pod);
      fingerprints.set(uid, statusFingerprint(pod.status));
      if (pod.status !== undefined) statuses.set(uid, pod.status);
    }
    const changed = new Set<string>();
    for (const [uid, fingerprint] of fingerprints) if (this.#fingerprints.get(uid) !== fingerprint) changed.add(uid);
    for (const uid of this.#fingerprints.keys()) if (!fingerprints.has(uid)) changed.add(uid);
    this.#fingerprints = fingerprints;
    this.#statuses = statuses;
    this.#options.onRelist(pods, startedAt);
    for (const uid of changed) this.#options.onPodChanged(uid);
  }

  /** Relists every intervalMs until `signal` aborts; with a notifying provider, also acts on each notification. */
  run(signal: AbortSignal): Promise<void> {
    const { provider, logger, intervalMs } = this.#options;
    if (hasNotifier(provider)) provider.notifyPods((pod) => this.#onNotified(pod), signal);
    return repeatEvery(
      intervalMs,
      signal,
      async () => {
        await this.relist(signal);
        if (this.#failing) logger.info('relisting pods works again');
        this.#failing = false;
      },
      (e) => {
        if (!this.#failing) logger.error({ err: e }, 'relisting pods failed; retrying every period');
        this.#failing = true;
      },
    );
  }

  #onNotified(pod: Pod): void {
    const uid = podUid(pod);
    const fingerprint = statusFingerprint(pod.status);
    if (pod.status !== undefined) this.#statuses.set(uid, pod.status);
    if (this.#fingerprints.get(uid) === fingerprint) return;
    this.#fingerprints.set(uid, fingerprint);
    this.#options.onPodChanged(uid);
  }
}
