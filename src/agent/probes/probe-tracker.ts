// A probe's result over time, as the kubelet's prober worker keeps it: the reported result changes
// only after successThreshold successes or failureThreshold failures in a row. Readiness starts
// failed, liveness succeeded, startup unknown; a new container instance starts over.
import type { Probe } from '../k8s-types.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

export function initialResult(kind: ProbeKind): ProbeResult {
  return kind === 'readiness' ? 'failure' : kind === 'liveness' ? 'success' : 'unknown';
}

export class ProbeTracker {
  readonly #kind: ProbeKind;
  readonly #successThreshold: number;
  readonly #failureThreshold: number;
  #result: ProbeResult;
  #last: ProbeResult = 'unknown';
  #run = 0;

  constructor(kind: ProbeKind, probe: Probe) {
    this.#kind = kind;
    this.#successThreshold = Math.max(1, probe.successThreshold ?? 1);
    this.#failureThreshold = Math.max(1, probe.failureThreshold ?? 3);
    this.#result = initialResult(kind);
  }

  get result(): ProbeResult {
    return this.#result;
  }

  /** Forces a result without counting (readiness of a container that is not running). */
  set(result: ProbeResult): boolean {
    const changed = this.#result !== result;
    this.#result = result;
    this.#run = 0;
    this.#last = 'unknown';
    return changed;
  }

  /** Counts one probe outcome; returns true when the reported result changed. */
  record(outcome: 'success' | 'failure'): boolean {
    if (this.#last === outcome) this.#run++;
    else {
      this.#last = outcome;
      this.#run = 1;
    }
    const threshold = outcome === 'success' ? this.#successThreshold : this.#failureThreshold;
    if (this.#run < threshold) return false;
    const changed = this.#result !== outcome;
    this.#result = outcome;
    if (outcome === 'failure' && this.#kind !== 'readiness') this.#run = 0;
    return changed;
  }
}
