// The node's side of an exec or attach session through a provider hook: the client's streams (as
// the streaming protocols hand them over) become the provider's ExecIO, and the hook's promise the
// process's end. A small async queue carries terminal sizes.
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { StreamProcess } from '../streaming/run-remote-command.ts';
import type { ExecIO, TerminalSize } from './provider.ts';

/** An async iterable fed by push(); ends with end(). `latestOnly`: a slow reader skips to the newest item. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #latestOnly: boolean;
  #items: T[] = [];
  #waiters: ((r: IteratorResult<T>) => void)[] = [];
  #ended = false;

  constructor(options: { latestOnly?: boolean } = {}) {
    this.#latestOnly = options.latestOnly === true;
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ value: item, done: false });
    else if (this.#latestOnly) this.#items = [item];
    else this.#items.push(item);
  }

  end(): void {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Chunks of `r` until it ends; an error or a destroyed stream ends them too (the client went away). */
export async function* chunksOf(r: Readable): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of r.iterator({ destroyOnReturn: false })) yield chunk as Uint8Array;
  } catch {
    // the client's stream broke off: that is its end
  }
}

/** A writer for the provider's output: resolves once `to` can take more (or is gone). */
export function paced(to: Writable): (chunk: Uint8Array) => void | Promise<void> {
  return (chunk) => {
    if (to.destroyed || to.writableEnded) return;
    if (to.write(chunk)) return;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        to.off('drain', done);
        to.off('close', done);
        resolve();
      };
      to.once('drain', done);
      to.once('close', done);
    });
  };
}

export interface WantedStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/**
 * Starts `run` (a provider hook) with ExecIO for the streams the client opened. `done` settles with
 * the hook: the exit code of an exec, undefined for an attach; a rejection is the error the client sees.
 */
export function providerStreamProcess(
  wants: WantedStreams,
  size: TerminalSize | undefined,
  run: (io: ExecIO, signal: AbortSignal) => Promise<number | undefined>,
): StreamProcess {
  const controller = new AbortController();
  const stdin = wants.stdin ? new PassThrough() : undefined;
  const stdout = wants.stdout ? new PassThrough() : undefined;
  const stderr = wants.stderr && !wants.tty ? new PassThrough() : undefined;
  const sizes = new AsyncQueue<TerminalSize>({ latestOnly: true });
  let last: TerminalSize | undefined;
  const resize = (s: TerminalSize): void => {
    // The streaming code repeats the first size to late listeners: pass on changes only.
    if (last !== undefined && last.width === s.width && last.height === s.height) return;
    last = s;
    sizes.push(s);
  };
  if (size !== undefined) resize(size);
  const io: ExecIO = {
    stdin: stdin && chunksOf(stdin),
    stdout: stdout && paced(stdout),
    stderr: stderr && paced(stderr),
    tty: wants.tty,
    resize: wants.tty ? sizes : undefined,
  };
  const done = (async () => {
    try {
      return await run(io, controller.signal);
    } finally {
      sizes.end();
      stdout?.end();
      stderr?.end();
    }
  })();
  return {
    stdin,
    stdout,
    stderr,
    resize,
    done,
    async kill() {
      controller.abort();
      sizes.end();
      await done.catch(() => {});
    },
  };
}
