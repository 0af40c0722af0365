// Reading a container's log file as `crictl logs` and `kubectl logs` do: the CRI log format
// (`<RFC3339Nano> <stdout|stderr> <P|F>[:more tags] <content>`, as conmon and containerd write it)
// and Docker's json-file lines; stdout records to stdout and stderr records to stderr; partial
// records (P) joined with what follows on the same stream; --tail counting whole lines; --since;
// --timestamps; --limit-bytes; and -f, which follows the file (across rotation) until the
// container is no longer running.

import { watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { invalidArgument } from '../errors/errors.ts';

export type LogStream = 'stdout' | 'stderr';

export interface LogRecord {
  /** The timestamp as written in the file. */
  timestamp: string;
  /** The same, in nanoseconds since the epoch. */
  nanos: bigint;
  stream: LogStream;
  /** True for a P record: the line goes on in the next record of the stream. */
  partial: boolean;
  /** The content, with its newline when the record ends a line. */
  content: Buffer;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

/** RFC 3339 with any number of fraction digits, in nanoseconds; undefined when it is not one. */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * One line of a log file (without its newline) as a record: the CRI format, or a Docker json-file
 * line. Undefined for a line that is neither (kubelet skips those too).
 */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  if (line[0] === 0x7b) return parseDockerJsonLine(line);
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return undefined;
  const timestamp = line.subarray(0, s1).toString('latin1');
  const nanos = parseRfc3339Nano(timestamp);
  if (nanos === undefined) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  let s3 = line.indexOf(SPACE, s2 + 1);
  // A record with empty content may end right after its tag.
  if (s3 < 0) s3 = line.length;
  const tags = line
    .subarray(s2 + 1, s3)
    .toString('latin1')
    .split(':');
  if (tags[0] !== 'P' && tags[0] !== 'F') return undefined;
  const partial = tags[0] === 'P';
  const body = line.subarray(Math.min(s3 + 1, line.length));
  return { timestamp, nanos, stream, partial, content: partial ? Buffer.from(body) : Buffer.concat([body, Buffer.from('\n')]) };
}

function parseDockerJsonLine(line: Buffer): LogRecord | undefined {
  try {
    const j = JSON.parse(line.toString('utf8')) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof j.log !== 'string' || (j.stream !== 'stdout' && j.stream !== 'stderr') || typeof j.time !== 'string') return undefined;
    const nanos = parseRfc3339Nano(j.time);
    if (nanos === undefined) return undefined;
    return { timestamp: j.time, nanos, stream: j.stream, partial: !j.log.endsWith('\n'), content: Buffer.from(j.log, 'utf8') };
  } catch {
    return undefined;
  }
}

/**
 * `--since`: a duration before now ("42m", "1h30m", "10s"), an RFC 3339 time ("2024-01-02T13:23:37Z",
 * without a zone it is UTC; a date alone is its midnight), or Unix seconds ("1704067200.5").
 * In nanoseconds since the epoch.
 */
export function parseSince(value: string, nowMs = Date.now()): bigint {
  const duration = parseGoDuration(value);
  if (duration !== undefined) return BigInt(Math.round(nowMs - duration)) * 1_000_000n;
  if (/^\d+(\.\d{1,9})?$/.test(value)) {
    const [s, f = ''] = value.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt(f.padEnd(9, '0'));
  }
  let text = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00:00';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += 'Z';
  if (/T\d{2}:\d{2}(Z|[+-])/.test(text)) text = text.replace(/T(\d{2}:\d{2})(?=Z|[+-])/, 'T$1:00');
  const nanos = parseRfc3339Nano(text);
  if (nanos === undefined)
    throw invalidArgument('bad-flag', `--since: expected a duration (42m), an RFC 3339 time or Unix seconds, got "${value}"`);
  return nanos;
}

/** Go's time.ParseDuration, in milliseconds; undefined when the text is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^[+-]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  const sign = text.startsWith('-') ? -1 : 1;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]!]!;
  return sign * total;
}

export interface LogOptions {
  /** Whole lines from the end; undefined or negative: all. */
  tail?: number;
  /** Lines that started before this time (nanoseconds) are left out. */
  sinceNanos?: bigint;
  /** Each line begins with its timestamp and a space. */
  timestamps?: boolean;
  /** Stop after this many bytes in all; undefined or negative: no limit. */
  limitBytes?: number;
}

export interface LogSinks {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Writes and waits for the stream to drain when it asks; a stream that broke (EPIPE) or closed does not keep us waiting. */
async function writeTo(stream: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  const gone = () => (stream as { destroyed?: boolean }).destroyed === true;
  if (gone() || stream.write(chunk) || gone()) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('error', done);
    stream.once('close', done);
  });
}

/** Writes records in order: a timestamp only where a line starts; --since decided per line; the byte limit. */
export class LogPrinter {
  readonly #sinks: LogSinks;
  readonly #options: LogOptions;
  readonly #midLine = { stdout: false, stderr: false };
  readonly #skipping = { stdout: false, stderr: false };
  #remaining: number;

  constructor(sinks: LogSinks, options: LogOptions = {}) {
    this.#sinks = sinks;
    this.#options = options;
    this.#remaining = options.limitBytes !== undefined && options.limitBytes >= 0 ? options.limitBytes : Number.POSITIVE_INFINITY;
  }

  /** False once the byte limit is reached: nothing more will be written. */
  get open(): boolean {
    return this.#remaining > 0;
  }

  async write(record: LogRecord): Promise<boolean> {
    if (!this.open) return false;
    const { stream } = record;
    const startsLine = !this.#midLine[stream];
    this.#midLine[stream] = record.partial;
    if (startsLine) this.#skipping[stream] = this.#options.sinceNanos !== undefined && record.nanos < this.#options.sinceNanos;
    if (this.#skipping[stream]) return true;
    let chunk = record.content;
    if (startsLine && this.#options.timestamps) chunk = Buffer.concat([Buffer.from(`${record.timestamp} `), chunk]);
    if (chunk.length > this.#remaining) chunk = chunk.subarray(0, this.#remaining);
    this.#remaining -= chunk.length;
    if (chunk.length > 0) await writeTo(stream === 'stdout' ? this.#sinks.stdout : this.#sinks.stderr, chunk);
    return this.open;
  }
}

/** Splits bytes into lines; keeps an unfinished last line for the next push. */
export class LineSplitter {
  #rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = data.indexOf(NEWLINE, start); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
      lines.push(data.subarray(start, nl));
      start = nl + 1;
    }
    this.#rest = Buffer.from(data.subarray(start));
    return lines;
  }

  /** The unfinished line, if any (and forgets it). */
  take(): Buffer | undefined {
    if (this.#rest.length === 0) return undefined;
    const rest = this.#rest;
    this.#rest = Buffer.alloc(0);
    return rest;
  }
}

/**
 * The records that make up the last `n` whole lines, in file order: each stream's partial records
 * belong to the line its next full record ends. A line still open at the end (partial records
 * only) comes too, without counting.
 */
export class TailBuffer {
  readonly #n: number;
  #seq = 0;
  readonly #complete: { seq: number; records: { seq: number; record: LogRecord }[] }[] = [];
  readonly #open: Record<LogStream, { seq: number; record: LogRecord }[]> = { stdout: [], stderr: [] };

  constructor(n: number) {
    this.#n = n;
  }

  push(record: LogRecord): void {
    const entry = { seq: this.#seq++, record };
    const open = this.#open[record.stream];
    open.push(entry);
    if (record.partial) return;
    this.#open[record.stream] = [];
    if (this.#n <= 0) return;
    this.#complete.push({ seq: entry.seq, records: open });
    if (this.#complete.length > this.#n) this.#complete.shift();
  }

  records(): LogRecord[] {
    const all = [...this.#complete.flatMap((l) => l.records), ...this.#open.stdout, ...this.#open.stderr];
    return all.sort((a, b) => a.seq - b.seq).map((e) => e.record);
  }
}

export interface FollowOptions {
  /** Asked now and then once the end of the file is reached; following stops when it answers false. */
  isRunning: () => Promise<boolean>;
  /** How often to ask isRunning while no new data comes. Default 1 s. */
  checkEveryMs?: number;
  /** How often to look at the file when no change notification comes. Default 250 ms. */
  pollMs?: number;
}

export interface ReadLogsOptions extends LogOptions {
  follow?: FollowOptions;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

/** Reads `path` from `position` to its current end, line by line; returns the new position. */
async function readToEnd(
  handle: FileHandle,
  position: number,
  splitter: LineSplitter,
  onLine: (line: Buffer) => Promise<boolean>,
): Promise<{ position: number; more: boolean }> {
  const buf = Buffer.alloc(CHUNK);
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, CHUNK, position);
    if (bytesRead === 0) return { position, more: true };
    position += bytesRead;
    for (const line of splitter.push(buf.subarray(0, bytesRead))) {
      if (!(await onLine(line))) return { position, more: false };
    }
  }
}

/** Resolves when the file changes (inotify) or after `ms`, whichever comes first. */
function waitForChange(path: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    try {
      watcher = watch(path, { persistent: false }, done);
      watcher.on('error', () => undefined);
    } catch {
      // no inotify for this path: the timer polls
    }
  });
}

/**
 * Prints a container's log file to the sinks. With `follow`, keeps reading as the file grows, opens
 * the new file when the runtime rotates it, and returns once the container no longer runs and all
 * it wrote is printed (or when `signal` aborts).
 */
export async function readLogs(path: string, sinks: LogSinks, options: ReadLogsOptions = {}): Promise<void> {
  const printer = new LogPrinter(sinks, options);
  const tail = options.tail !== undefined && options.tail >= 0 ? new TailBuffer(options.tail) : undefined;
  let handle = await open(path, 'r');
  try {
    let ino = (await handle.stat()).ino;
    let position = 0;
    let splitter = new LineSplitter();
    let tailDone = false;
    const onLine = async (line: Buffer): Promise<boolean> => {
      if (options.signal?.aborted) return false;
      const record = parseLogLine(line);
      if (record === undefined) return true;
      if (tail !== undefined && !tailDone) {
        tail.push(record);
        return true;
      }
      return printer.write(record);
    };
    const finishTail = async (): Promise<boolean> => {
      if (tail === undefined || tailDone) return true;
      tailDone = true;
      for (const record of tail.records()) if (!(await printer.write(record))) return false;
      return true;
    };
    const flushUnfinished = async (): Promise<boolean> => {
      const rest = splitter.take();
      return rest === undefined ? true : onLine(rest);
    };

    let r = await readToEnd(handle, position, splitter, onLine);
    position = r.position;
    if (!r.more) return;
    const follow = options.follow;
    if (follow === undefined) {
      if (!(await flushUnfinished())) return;
      await finishTail();
      return;
    }
    if (!(await finishTail())) return;

    const checkEveryMs = follow.checkEveryMs ?? 1000;
    const pollMs = follow.pollMs ?? 250;
    let lastCheck = 0;
    for (;;) {
      if (options.signal?.aborted) return;
      // Rotated (a new file under the name) or truncated: finish the old one, then start at 0.
      const current = await stat(path).catch(() => undefined);
      if (current !== undefined && current.ino !== ino) {
        r = await readToEnd(handle, position, splitter, onLine);
        if (!r.more || !(await flushUnfinished())) return;
        await handle.close();
        handle = await open(path, 'r');
        ino = (await handle.stat()).ino;
        position = 0;
        splitter = new LineSplitter();
      } else if (current !== undefined && current.size < position) {
        position = 0;
        splitter = new LineSplitter();
      }
      const before = position;
      r = await readToEnd(handle, position, splitter, onLine);
      position = r.position;
      if (!r.more) return;
      if (position !== before) continue;
      if (Date.now() - lastCheck >= checkEveryMs) {
        lastCheck = Date.now();
        if (!(await follow.isRunning())) {
          // What it wrote before it stopped.
          r = await readToEnd(handle, position, splitter, onLine);
          if (r.more) await flushUnfinished();
          return;
        }
      }
      await waitForChange(path, Math.min(pollMs, checkEveryMs), options.signal);
    }
  } finally {
    await handle.close();
  }
}

/** Where the kubelet keeps the log of the container's previous attempt: `<dir>/<attempt-1>.log`. */
export function previousLogPath(logPath: string, attempt: number): string {
  const slash = logPath.lastIndexOf('/');
  const dot = logPath.lastIndexOf('.');
  return `${logPath.slice(0, slash + 1)}${attempt - 1}${dot > slash ? logPath.slice(dot) : ''}`;
}
