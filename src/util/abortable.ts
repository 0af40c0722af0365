// Async iteration that an AbortSignal can interrupt even while the source is stalled.
import { type BerthError, toBerthError } from '../errors/errors.ts';

/** The error to throw for an aborted signal: `cancelled`, or `deadline-exceeded` for a timeout. */
export function abortError(signal: AbortSignal): BerthError {
  return toBerthError(signal.reason);
}

/** Throws `abortError(signal)` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Waits for `promise`, or rejects with `abortError(signal)` as soon as the signal fires. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => {});
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Calls `it.next()`, abandoning the wait when `signal` fires. */
export function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T>> {
  throwIfAborted(signal);
  return raceAbort(it.next(), signal);
}

/**
 * Tells a source we will not read it any further (destroys a stream, finishes a generator).
 * Fire and forget: a generator that is still running would make an awaited `return()` hang.
 */
export function closeIterator(it: AsyncIterator<unknown>): void {
  try {
    const r = it.return?.();
    if (r !== undefined) Promise.resolve(r).catch(() => {});
  } catch {
    // the source is broken already; nothing to release
  }
}
