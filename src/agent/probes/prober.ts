// The node's prober: one worker per container and probe kind (startup, liveness, readiness), each
// probing every periodSeconds after initialDelaySeconds, counting results against the thresholds.
// Readiness and startup results shape the pod's status; a failed liveness or startup probe has the
// provider kill the container, and probing of that container waits for its next instance.
import type { Logger } from '../../util/logger.ts';
import type { Container, Pod, PodStatus, Probe } from '../k8s-types.ts';
import { podFullName, podUid } from '../k8s-types.ts';
import type { EventRecorder, PodProvider } from '../provider.ts';
import { checkProbe, type ExecInContainer } from './probe-check.ts';
import { type ProbeKind, type ProbeResult, ProbeTracker } from './probe-tracker.ts';

export interface ProberOptions {
  provider: PodProvider;
  logger: Logger;
  signal: AbortSignal;
  /** A readiness or startup result changed (the pod's status did). */
  onResultChanged?: (uid: string) => void;
  /** Failed probes are recorded as Unhealthy events. */
  events?: EventRecorder;
  /** Told of every probe run, for the node's prober_probe_total. */
  onProbe?: (run: { kind: ProbeKind; result: string; pod: Pod; container: string }) => void;
}

interface PodView {
  pod: Pod;
  status?: PodStatus;
}

const KINDS: { kind: ProbeKind; field: 'startupProbe' | 'livenessProbe' | 'readinessProbe' }[] = [
  { kind: 'startup', field: 'startupProbe' },
  { kind: 'liveness', field: 'livenessProbe' },
  { kind: 'readiness', field: 'readinessProbe' },
];

class ProbeWorker {
  readonly #prober: Prober;
  readonly #uid: string;
  readonly #container: Container;
  readonly #kind: ProbeKind;
  readonly #probe: Probe;
  readonly #controller = new AbortController();
  #view: PodView;
  #tracker: ProbeTracker;
  #containerId = '';
  #onHold = false;
  #timer?: NodeJS.Timeout;

  constructor(prober: Prober, view: PodView, container: Container, kind: ProbeKind, probe: Probe) {
    this.#prober = prober;
    this.#uid = podUid(view.pod);
    this.#view = view;
    this.#container = container;
    this.#kind = kind;
    this.#probe = probe;
    this.#tracker = new ProbeTracker(kind, probe);
    // Spread the first probes of many containers over the first second, as the kubelet's jitter does.
    this.#schedule(Math.floor(Math.random() * 1000));
  }

  update(view: PodView): void {
    this.#view = view;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#controller.abort();
    if (this.#containerId !== '') this.#prober.forget(this.#containerId, this.#kind);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#tick()
        .catch((e: unknown) => {
          if (!this.#controller.signal.aborted)
            this.#prober.logger.warn({ err: e, pod: podFullName(this.#view.pod), container: this.#container.name }, 'probe worker failed');
        })
        .finally(() => {
          if (!this.#controller.signal.aborted) this.#schedule(Math.max(1, this.#probe.periodSeconds ?? 10) * 1000);
        });
    }, delayMs);
    this.#timer.unref();
  }

  #publish(changed: boolean): void {
    this.#prober.store(this.#containerId, this.#kind, this.#tracker.result);
    if (changed && this.#kind !== 'liveness') this.#prober.changed(this.#uid);
  }

  async #tick(): Promise<void> {
    const statuses =
      this.#container.restartPolicy === 'Always' ? this.#view.status?.initContainerStatuses : this.#view.status?.containerStatuses;
    const status = statuses?.find((c) => c.name === this.#container.name);
    if (status?.containerID === undefined) return;
    if (status.containerID !== this.#containerId) {
      if (this.#containerId !== '') this.#prober.forget(this.#containerId, this.#kind);
      this.#containerId = status.containerID;
      this.#tracker = new ProbeTracker(this.#kind, this.#probe);
      this.#onHold = false;
      this.#publish(true);
    }
    if (this.#onHold) return;
    const running = status.state.running;
    if (running === undefined) {
      if (this.#kind === 'readiness') this.#publish(this.#tracker.set('failure'));
      return;
    }
    const startedAt = running.startedAt === undefined ? 0 : Date.parse(running.startedAt);
    if ((Date.now() - startedAt) / 1000 < (this.#probe.initialDelaySeconds ?? 0)) return;
    if (this.#kind === 'startup' && this.#tracker.result === 'success') return;
    if (
      this.#kind !== 'startup' &&
      this.#container.startupProbe !== undefined &&
      this.#prober.result(this.#containerId, 'startup') !== 'success'
    )
      return;

    const pod = this.#view.pod;
    const podIP = this.#view.status?.podIP ?? '';
    const outcome = await checkProbe(
      this.#probe,
      { container: this.#container, podIP, exec: this.#prober.exec(pod, this.#container) },
      this.#controller.signal,
    );
    const changed = this.#tracker.record(outcome.result);
    this.#publish(changed);
    this.#prober.probed({ kind: this.#kind, result: outcome.result, pod, container: this.#container.name });
    if (outcome.result === 'failure') {
      // Every failed probe, as the kubelet records them.
      const kind = `${this.#kind[0]!.toUpperCase()}${this.#kind.slice(1)}`;
      this.#prober.events?.podEvent(pod, 'Warning', 'Unhealthy', `${kind} probe failed: ${outcome.message}`, this.#container.name);
    }
    if (!changed) return;
    const log = this.#prober.logger.child({ pod: podFullName(pod), container: this.#container.name, probe: this.#kind });
    if (outcome.result === 'success') {
      log.info(`${this.#kind} probe succeeded`);
      return;
    }
    log.warn({ output: outcome.message }, `${this.#kind} probe failed: ${outcome.message}`);
    if (this.#kind === 'readiness') return;
    this.#onHold = true;
    const reason = `Container ${this.#container.name} failed ${this.#kind} probe, will be restarted`;
    const graceSeconds = this.#probe.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    await this.#prober.kill(pod, this.#container.name, reason, graceSeconds, this.#controller.signal);
  }
}

export class Prober {
  readonly #options: ProberOptions;
  readonly #workers = new Map<string, ProbeWorker>();
  readonly #results = new Map<string, ProbeResult>();
  #warnedNoKill = false;

  constructor(options: ProberOptions) {
    this.#options = options;
    options.signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  get logger(): Logger {
    return this.#options.logger;
  }

  probed(run: { kind: ProbeKind; result: string; pod: Pod; container: string }): void {
    this.#options.onProbe?.(run);
  }

  get events(): EventRecorder | undefined {
    return this.#options.events;
  }

  /** Starts workers for probes of these pods, updates what they see, and stops the workers of pods not listed. */
  sync(views: PodView[]): void {
    const keep = new Set<string>();
    for (const view of views) {
      const uid = podUid(view.pod);
      // Sidecars (restartable init containers) are probed like app containers.
      const sidecars = (view.pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
      for (const container of [...sidecars, ...view.pod.spec.containers]) {
        for (const { kind, field } of KINDS) {
          const probe = container[field];
          if (probe === undefined) continue;
          const key = `${uid}/${container.name}/${kind}`;
          keep.add(key);
          const worker = this.#workers.get(key);
          if (worker === undefined) this.#workers.set(key, new ProbeWorker(this, view, container, kind, probe));
          else worker.update(view);
        }
      }
    }
    for (const [key, worker] of this.#workers) {
      if (keep.has(key)) continue;
      worker.stop();
      this.#workers.delete(key);
    }
  }

  /** The current result of a container instance's probe, undefined before its first report. */
  result(containerID: string, kind: ProbeKind): ProbeResult | undefined {
    return this.#results.get(`${containerID}/${kind}`);
  }

  stop(): void {
    for (const worker of this.#workers.values()) worker.stop();
    this.#workers.clear();
  }

  store(containerID: string, kind: ProbeKind, result: ProbeResult): void {
    this.#results.set(`${containerID}/${kind}`, result);
  }

  forget(containerID: string, kind: ProbeKind): void {
    this.#results.delete(`${containerID}/${kind}`);
  }

  changed(uid: string): void {
    this.#options.onResultChanged?.(uid);
  }

  exec(pod: Pod, container: Container): ExecInContainer | undefined {
    const run = this.#options.provider.runInContainer?.bind(this.#options.provider);
    if (run === undefined) return undefined;
    return async (command, timeoutSeconds, signal) => {
      let output = '';
      const keep = (chunk: Uint8Array) => {
        if (output.length < 10_240) output += Buffer.from(chunk).toString('utf8');
      };
      const { exitCode } = await run(
        pod.metadata.namespace ?? 'default',
        pod.metadata.name ?? '',
        container.name,
        command,
        { stdout: keep, stderr: keep, timeoutSeconds },
        signal,
      );
      return { exitCode, output: output.trim() };
    };
  }

  async kill(pod: Pod, containerName: string, reason: string, graceSeconds: number, signal: AbortSignal): Promise<void> {
    const { provider, logger } = this.#options;
    if (provider.killContainer === undefined) {
      if (!this.#warnedNoKill) logger.warn('the provider cannot kill containers: failed liveness and startup probes are only logged');
      this.#warnedNoKill = true;
      return;
    }
    await provider.killContainer(pod, containerName, { reason, graceSeconds }, signal);
  }
}
