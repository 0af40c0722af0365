// Serialises work per key (an image name, a pod id) without blocking other keys.
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, body: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await body();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** Concurrent callers with the same key share one in-flight promise. */
export class SingleFlight<T> {
  #inflight = new Map<string, Promise<T>>();

  run(key: string, body: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing;
    const p = body().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }
}
