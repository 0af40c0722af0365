// Docker's log stream (GET /containers/{id}/logs?timestamps=1) as CRI log records: each Docker
// message is `<RFC3339Nano time> <text>`; a non-TTY stream wraps every message in an 8-byte frame
// header (stream type, length), a TTY stream is raw bytes, all stdout. A message without a final
// newline is a partial line (Docker cuts lines at 16 KiB), written as a P record.

export type LogStream = 'stdout' | 'stderr';

export interface LogRecord {
  /** Nanoseconds since the epoch, from Docker's timestamp. */
  timeNs: bigint;
  stream: LogStream;
  partial: boolean;
  text: Buffer;
}

/** The longest record text: a longer line goes out as P records of this size, as Docker cuts them. */
export const MAX_RECORD_TEXT = 16 * 1024;
const MAX_TIMESTAMP = 64;
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;
/** Docker's fixed-width stamp at the start of a message, as it appears glued to a TTY partial line. */
const STAMP_LENGTH = '2026-12-04T20:00:50.123456789Z'.length;
const GLUED_TIMESTAMP = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /g;

/** An RFC 3339 time with up to 9 fraction digits → ns since the epoch; undefined when it is not one. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms / 1000) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The CRI log time as conmon writes it: 9 fraction digits, UTC as `+00:00`. */
export function criLogTime(timeNs: bigint): string {
  const seconds = timeNs / 1_000_000_000n;
  const fraction = (timeNs % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}+00:00`;
}

/** Docker's `since=` for a time: seconds with 9 fraction digits. */
export function dockerSince(timeNs: bigint): string {
  return `${timeNs / 1_000_000_000n}.${(timeNs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** One record as a line of the CRI log file. */
export function criLogLine(r: LogRecord): Buffer {
  return Buffer.concat([Buffer.from(`${criLogTime(r.timeNs)} ${r.stream} ${r.partial ? 'P' : 'F'} `), r.text, Buffer.from('\n')]);
}

/** The messages of one stream: the stamp, then text up to a newline or the end of the message. */
class MessageAssembler {
  readonly #stream: LogStream;
  readonly #tty: boolean;
  #stamp = '';
  #inText = false;
  #timeNs = 0n;
  #parts: Buffer[] = [];
  #size = 0;
  /** Text bytes of the current message, also those already written out in P records of 16 KiB. */
  #messageSize = 0;

  constructor(stream: LogStream, tty: boolean) {
    this.#stream = stream;
    this.#tty = tty;
  }

  feed(data: Buffer, out: LogRecord[]): void {
    let rest = data;
    while (rest.length > 0) {
      if (!this.#inText) {
        const space = rest.indexOf(0x20);
        const upTo = space < 0 ? rest.length : space;
        this.#stamp += rest.subarray(0, upTo).toString('latin1');
        if (space < 0 && this.#stamp.length <= MAX_TIMESTAMP) return;
        // A message without a readable stamp keeps the time of the one before.
        this.#timeNs = parseTimeNs(this.#stamp) ?? this.#timeNs;
        this.#stamp = '';
        this.#inText = true;
        rest = rest.subarray(space < 0 ? rest.length : space + 1);
        continue;
      }
      const cut = this.#textEnd(rest);
      if (cut.kind === 'none') {
        this.#append(rest, out);
        return;
      }
      if (cut.at < 0) {
        // The next stamp began in text already taken: give it back to the stamp.
        const stamp = this.#takeBack(-cut.at);
        if (this.#size > 0) this.#emit(true, out);
        this.#inText = false;
        this.#messageSize = 0;
        this.#stamp = stamp;
        continue;
      }
      this.#append(rest.subarray(0, cut.at), out);
      this.#emit(cut.kind === 'stamp', out);
      rest = rest.subarray(cut.at + (cut.kind === 'newline' ? 1 : 0));
    }
  }

  /** The end of the message: text without a newline is a partial line. */
  endMessage(out: LogRecord[]): void {
    if (this.#inText && this.#size > 0) this.#emit(true, out);
    this.#inText = false;
    this.#messageSize = 0;
    this.#stamp = '';
  }

  /**
   * Where the current text ends in `data`: at a newline, or (TTY only, where no frame marks the end
   * of a partial message) where the next message's stamp follows the partial text directly.
   */
  #textEnd(data: Buffer): { kind: 'none' | 'newline' | 'stamp'; at: number } {
    const newline = data.indexOf(0x0a);
    const byNewline = { kind: newline < 0 ? ('none' as const) : ('newline' as const), at: newline };
    if (!this.#tty) return byNewline;
    // The stamp may have begun in the text before this chunk.
    const before = this.#tail(STAMP_LENGTH);
    const text = before + data.toString('latin1', 0, newline < 0 ? data.length : newline);
    GLUED_TIMESTAMP.lastIndex = 0;
    for (let m = GLUED_TIMESTAMP.exec(text); m !== null; m = GLUED_TIMESTAMP.exec(text)) {
      const t = parseTimeNs(m[0].slice(0, -1));
      const at = m.index - before.length;
      if (this.#messageSize + at > 0 && t !== undefined && t >= this.#timeNs) return { kind: 'stamp', at };
    }
    return byNewline;
  }

  /** The last `n` bytes of the text taken so far, as latin1. */
  #tail(n: number): string {
    const parts: Buffer[] = [];
    let size = 0;
    for (let i = this.#parts.length - 1; i >= 0 && size < n; i--) {
      parts.unshift(this.#parts[i]!);
      size += this.#parts[i]!.length;
    }
    const joined = Buffer.concat(parts);
    return joined.toString('latin1', Math.max(0, joined.length - n));
  }

  /** Removes the last `n` bytes of the text taken so far and returns them (latin1). */
  #takeBack(n: number): string {
    const taken = this.#tail(n);
    const joined = Buffer.concat(this.#parts);
    this.#parts = [joined.subarray(0, joined.length - n)];
    this.#size -= n;
    this.#messageSize -= n;
    return taken;
  }

  #append(data: Buffer, out: LogRecord[]): void {
    let rest = data;
    while (this.#size + rest.length > MAX_RECORD_TEXT) {
      const take = MAX_RECORD_TEXT - this.#size;
      this.#parts.push(rest.subarray(0, take));
      this.#size += take;
      this.#messageSize += take;
      rest = rest.subarray(take);
      this.#emit(true, out, true);
    }
    if (rest.length > 0) {
      this.#parts.push(Buffer.from(rest)); // a copy: the chunk's memory is not held
      this.#size += rest.length;
      this.#messageSize += rest.length;
    }
  }

  #emit(partial: boolean, out: LogRecord[], continues = false): void {
    out.push({ timeNs: this.#timeNs, stream: this.#stream, partial, text: Buffer.concat(this.#parts) });
    this.#parts = [];
    this.#size = 0;
    if (!continues) {
      this.#inText = false;
      this.#messageSize = 0;
    }
  }
}

/** Decodes a log stream chunk by chunk; memory stays within a record and a frame header. */
export class DockerLogDecoder {
  readonly #tty: boolean;
  readonly #stdout: MessageAssembler;
  readonly #stderr: MessageAssembler;
  #header = Buffer.alloc(0);
  #frameLeft = 0;
  #frameStream: MessageAssembler | undefined;

  constructor(tty: boolean) {
    this.#tty = tty;
    this.#stdout = new MessageAssembler('stdout', tty);
    this.#stderr = new MessageAssembler('stderr', tty);
  }

  /** The records complete with this chunk. */
  push(chunk: Buffer): LogRecord[] {
    const out: LogRecord[] = [];
    if (this.#tty) {
      this.#stdout.feed(chunk, out);
      return out;
    }
    let rest = chunk;
    while (rest.length > 0) {
      if (this.#frameStream === undefined) {
        const need = 8 - this.#header.length;
        this.#header = Buffer.concat([this.#header, rest.subarray(0, need)]);
        rest = rest.subarray(need);
        if (this.#header.length < 8) break;
        this.#frameStream = this.#header[0] === 2 ? this.#stderr : this.#stdout;
        this.#frameLeft = this.#header.readUInt32BE(4);
        this.#header = Buffer.alloc(0);
      }
      const take = Math.min(this.#frameLeft, rest.length);
      this.#frameStream.feed(rest.subarray(0, take), out);
      this.#frameLeft -= take;
      rest = rest.subarray(take);
      if (this.#frameLeft === 0) {
        this.#frameStream.endMessage(out);
        this.#frameStream = undefined;
      }
    }
    return out;
  }

  /** The end of the stream: what is left is a partial line. */
  end(): LogRecord[] {
    const out: LogRecord[] = [];
    this.#stdout.endMessage(out);
    this.#stderr.endMessage(out);
    return out;
  }
}
