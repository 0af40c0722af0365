// An in-process publish/subscribe bus. Publishing never waits: each subscriber has a bounded
// queue, and a subscriber that falls behind by more than it holds is dropped with an error, so a
// slow reader can neither block the publisher nor grow memory without bound.
import { BerthError, invalidArgument } from '../errors/errors.ts';

export interface Subscription<T> extends AsyncIterable<T> {
  /** Ends the subscription; a pending or later read returns done. */
  close(): void;
}

/** Thrown from a subscription's iterator when more events were pending than its capacity. */
export class SubscriberOverflowError extends BerthError {
  constructor(capacity: number) {
    super('resource-exhausted', 'subscriber-overflow', `more than ${capacity} events pending: the subscriber reads too slowly`);
    this.name = 'SubscriberOverflowError';
  }
}

class Subscriber<T> {
  readonly #capacity: number;
  readonly #queue: T[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #failure: Error | undefined;
  readonly #onEnd: () => void;

  constructor(capacity: number, onEnd: () => void) {
    this.#capacity = capacity;
    this.#onEnd = onEnd;
  }

  push(event: T): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#capacity) {
      this.#failure = new SubscriberOverflowError(this.#capacity);
      this.#queue.length = 0;
      this.close();
      return;
    }
    this.#queue.push(event);
    this.#wakeUp();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onEnd();
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *events(): AsyncGenerator<T> {
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.#failure !== undefined) throw this.#failure;
        if (this.#closed) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }
}

export interface EventBusOptions {
  /**
   * Keep up to this many events published before anyone subscribed (the newest), for the first
   * subscriber: what happened while a daemon started is not lost to the client that connects next.
   */
  retainUntilFirstSubscriber?: number;
}

export class EventBus<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  readonly #retain: number;
  #backlog: T[] | undefined;

  constructor(options: EventBusOptions = {}) {
    this.#retain = options.retainUntilFirstSubscriber ?? 0;
    this.#backlog = this.#retain > 0 ? [] : undefined;
  }

  /** Every event published from now on, in order, until `signal` aborts or close() (then done), or overflow (then it throws). */
  subscribe(capacity: number, signal?: AbortSignal): Subscription<T> {
    if (!(capacity >= 1)) throw invalidArgument('invalid-capacity', `capacity must be at least 1, got ${capacity}`);
    const subscriber: Subscriber<T> = new Subscriber<T>(capacity, () => {
      this.#subscribers.delete(subscriber);
      signal?.removeEventListener('abort', onAbort);
    });
    const onAbort = () => subscriber.close();
    this.#subscribers.add(subscriber);
    for (const event of this.#backlog?.splice(0) ?? []) subscriber.push(event);
    this.#backlog = undefined;
    if (signal?.aborted) subscriber.close();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const events = subscriber.events();
    return { [Symbol.asyncIterator]: () => events, close: () => subscriber.close() };
  }

  publish(event: T): void {
    if (this.#backlog !== undefined) {
      this.#backlog.push(event);
      if (this.#backlog.length > this.#retain) this.#backlog.shift();
    }
    for (const subscriber of [...this.#subscribers]) subscriber.push(event);
  }

  /** Ends every subscription (done, as after an abort): the publisher goes away. */
  close(): void {
    for (const subscriber of [...this.#subscribers]) subscriber.close();
    this.#backlog = undefined;
  }

  /** How many subscriptions are open. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }
}
