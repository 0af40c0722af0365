// Bounds how many tasks run at once (parallel layer downloads).
export class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    try {
      return await body();
    } finally {
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** A multiset of keys held by operations in flight. */
export class Leases {
  #counts = new Map<string, number>();

  hold(keys: Iterable<string>): () => void {
    const held = [...keys];
    for (const k of held) this.#counts.set(k, (this.#counts.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of held) {
        const n = (this.#counts.get(k) ?? 1) - 1;
        if (n <= 0) this.#counts.delete(k);
        else this.#counts.set(k, n);
      }
    };
  }

  keys(): string[] {
    return [...this.#counts.keys()];
  }
}
