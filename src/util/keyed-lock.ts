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

/**
 * Concurrent callers with the same key share one run. The run gets a signal of its own that aborts
 * only when every caller waiting on it has given up; each caller still sees its own cancellation at
 * once.
 */
export class SharedRun<T> {
  #runs = new Map<string, { promise: Promise<T>; controller: AbortController; waiters: number }>();

  run(key: string, signal: AbortSignal | undefined, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let entry = this.#runs.get(key);
    if (!entry) {
      const controller = new AbortController();
      const created = { controller, waiters: 0, promise: Promise.resolve() as Promise<T> };
      created.promise = body(controller.signal).finally(() => {
        if (this.#runs.get(key) === created) this.#runs.delete(key);
      });
      created.promise.catch(() => {});
      this.#runs.set(key, created);
      entry = created;
    }
    const e = entry;
    e.waiters++;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        e.waiters--;
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (done) return;
        finish();
        if (e.waiters === 0) {
          if (this.#runs.get(key) === e) this.#runs.delete(key);
          e.controller.abort(signal?.reason);
        }
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      e.promise.then(
        (v) => {
          if (done) return;
          finish();
          resolve(v);
        },
        (err) => {
          if (done) return;
          finish();
          reject(err);
        },
      );
    });
  }
}
