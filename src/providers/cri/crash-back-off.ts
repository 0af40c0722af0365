// The kubelet's restart and image-pull back-off (client-go flowcontrol.Backoff as the kubelet
// uses it): 10 s, doubling to 5 min per key; an entry expires when the next event comes more than
// twice the maximum (10 min) after its last update — a container that ran 10 minutes starts again
// at 10 s.

export interface BackOffSettings {
  initialMs: number;
  maxMs: number;
}

export const KUBELET_BACK_OFF: BackOffSettings = { initialMs: 10_000, maxMs: 300_000 };

interface Entry {
  backOffMs: number;
  lastUpdate: number;
}

export class BackOff {
  readonly #settings: BackOffSettings;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(settings: BackOffSettings = KUBELET_BACK_OFF, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  #expired(eventTime: number, entry: Entry): boolean {
    return eventTime - entry.lastUpdate > this.#settings.maxMs * 2;
  }

  /** The current delay for `key`, 0 when it has none. */
  get(key: string): number {
    return this.#entries.get(key)?.backOffMs ?? 0;
  }

  /** Records an event: the first (or first after expiry) starts at the initial delay, later ones double it. */
  next(key: string, eventTime: number): void {
    const entry = this.#entries.get(key);
    const backOffMs =
      entry === undefined || this.#expired(eventTime, entry)
        ? this.#settings.initialMs
        : Math.min(entry.backOffMs * 2, this.#settings.maxMs);
    this.#entries.set(key, { backOffMs, lastUpdate: this.#now() });
  }

  /** True while less than the current delay has passed since `eventTime` (a container's finish time). */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined || this.#expired(eventTime, entry)) return false;
    return this.#now() - eventTime < entry.backOffMs;
  }

  /** True while less than the current delay has passed since the last next() (image pulls). */
  isInBackOffSinceUpdate(key: string, eventTime: number): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined || this.#expired(eventTime, entry)) return false;
    return eventTime - entry.lastUpdate < entry.backOffMs;
  }

  /** Milliseconds until the back-off that started at `since` ends (0 when over). */
  remaining(key: string, since: number): number {
    return Math.max(0, this.get(key) - (this.#now() - since));
  }

  /** When the last next() for `key` happened. */
  lastUpdate(key: string): number | undefined {
    return this.#entries.get(key)?.lastUpdate;
  }

  /** Drops entries not updated for twice the maximum delay. */
  gc(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (now - entry.lastUpdate > this.#settings.maxMs * 2) this.#entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a pod that is gone). */
  forget(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }
}

/** Go's time.Duration text for whole seconds: 10s, 1m20s, 5m0s — the kubelet's back-off messages carry it. */
export function goDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m${seconds % 60}s`;
}
