// Reading response bodies: small ones whole (with a size cap), large ones as a stream that fails
// when the registry stops sending (no byte within the no-progress timeout).
import type { IncomingMessage } from 'node:http';
import { deadlineExceeded, internal, resourceExhausted } from '../../errors/errors.ts';
import { abortError, redact, transferError } from './status-errors.ts';

export const DEFAULT_NO_PROGRESS_TIMEOUT_MS = 5 * 60_000;

export interface ReadOptions {
  signal?: AbortSignal | undefined;
  /** Fail when no byte arrives for this long (ms). */
  noProgressTimeoutMs?: number;
  /** Fail when the whole body has not arrived this long (ms) after reading began: a registry that trickles. */
  deadlineMs?: number;
}

/** A response body being streamed. Iterate it once; `close()` releases it without reading on. */
export interface BodyStream extends AsyncIterable<Uint8Array> {
  /** Content-Length the server announced, if any. */
  readonly contentLength: number | undefined;
  /** Where the bytes come from, after redirects. */
  readonly url: string;
  close(): void;
}

function noProgress(url: string, ms: number): Error {
  return deadlineExceeded('no-progress', `no data from ${redact(url)} for ${ms} ms: the registry stalled`, {
    fields: { url, timeoutMs: ms },
  });
}

function pastDeadline(url: string, ms: number): Error {
  return deadlineExceeded('read-deadline', `${redact(url)} did not arrive whole within ${ms} ms`, { fields: { url, timeoutMs: ms } });
}

async function* guarded(res: IncomingMessage, url: string, options: ReadOptions): AsyncGenerator<Uint8Array> {
  const ms = options.noProgressTimeoutMs ?? DEFAULT_NO_PROGRESS_TIMEOUT_MS;
  const signal = options.signal;
  const deadline = options.deadlineMs === undefined ? undefined : performance.now() + options.deadlineMs;
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - performance.now();
      if (left <= 0) throw pastDeadline(url, options.deadlineMs!);
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const stop = new Promise<never>((_, reject) => {
        timer =
          left < ms
            ? setTimeout(() => reject(pastDeadline(url, options.deadlineMs!)), left)
            : setTimeout(() => reject(noProgress(url, ms)), ms);
        if (signal !== undefined) {
          onAbort = () => reject(abortError(signal));
          signal.addEventListener('abort', onAbort, { once: true });
        }
      });
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([it.next(), stop]);
      } catch (e) {
        throw transferError(url, e);
      } finally {
        clearTimeout(timer);
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    if (!res.complete || !res.readableEnded) res.destroy();
  }
}

/** Wraps a response body in the no-progress guard. */
export function streamBody(res: IncomingMessage, url: string, options: ReadOptions = {}): BodyStream {
  const header = res.headers['content-length'];
  const length = header === undefined ? undefined : Number(header);
  let started = false;
  return {
    contentLength: length !== undefined && Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    url,
    close: () => res.destroy(),
    [Symbol.asyncIterator]() {
      if (started) throw internal('body-read-twice', 'a response body can be read only once');
      started = true;
      return guarded(res, url, options);
    },
  };
}

/** Reads a whole body, failing with resource-exhausted `response-too-large` past `maxBytes`. */
export async function readBody(res: IncomingMessage, url: string, maxBytes: number, options: ReadOptions = {}): Promise<Buffer> {
  const tooLarge = () =>
    resourceExhausted('response-too-large', `response from ${redact(url)} is larger than ${maxBytes} bytes`, {
      fields: { url, maxBytes },
    });
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of streamBody(res, url, options)) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/** Reads at most `maxBytes` of a body for an error message, ignoring failures. */
export async function readErrorBody(res: IncomingMessage, maxBytes = 16 * 1024, timeoutMs = 5_000): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of streamBody(res, '', { noProgressTimeoutMs: timeoutMs })) {
      chunks.push(Buffer.from(chunk));
      total += chunk.byteLength;
      if (total >= maxBytes) break;
    }
  } catch {
    // the body only decorates the error message
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}
