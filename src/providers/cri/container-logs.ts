// Container logs in the CRI log format (`<RFC 3339 nano time> <stdout|stderr> <P|F> <text>`, one
// record per line, P for a partial line continued by the next record), read back as the kubelet
// serves them: text only, or with its timestamp; the last N lines; newer than some seconds;
// following the file while the container runs.
import { type FileHandle, open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerLogOptions } from '../../agent/provider.ts';

export interface CriLogRecord {
  timestamp: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

const RECORD = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/;

export function parseCriLogRecord(line: string): CriLogRecord | undefined {
  const m = RECORD.exec(line);
  if (m === null) return undefined;
  return { timestamp: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4] ?? '' };
}

/** Whole log lines (partials joined), each with the timestamp of its first record. */
export function logLines(text: string): { timestamp: string; line: string }[] {
  const lines: { timestamp: string; line: string }[] = [];
  let pending: { timestamp: string; line: string } | undefined;
  for (const raw of text.split('\n')) {
    const record = parseCriLogRecord(raw);
    if (record === undefined) continue;
    pending = pending === undefined ? { timestamp: record.timestamp, line: record.text } : { ...pending, line: pending.line + record.text };
    if (!record.partial) {
      lines.push(pending);
      pending = undefined;
    }
  }
  return lines;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i;

/**
 * A log record's time as the kubelet writes it back (Go's RFC3339Nano in UTC: `Z`, no trailing zeros
 * in the fraction). Runtimes write it their own way: containerd `…Z`, conmon `…+00:00`.
 */
export function kubeletLogTime(timestamp: string): string {
  const m = TIMESTAMP.exec(timestamp);
  if (m === null) return timestamp;
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  let seconds = m[1]!;
  const zone = m[3]!.toUpperCase();
  if (zone !== 'Z' && zone !== '+00:00' && zone !== '-00:00') {
    seconds = new Date(`${seconds}${zone}`).toISOString().slice(0, 19);
  }
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

export function selectLines(lines: { timestamp: string; line: string }[], options: ContainerLogOptions, now = Date.now()): string[] {
  let selected = lines;
  if (options.sinceSeconds !== undefined) {
    const since = now - options.sinceSeconds * 1000;
    selected = selected.filter((l) => Date.parse(l.timestamp) >= since);
  }
  if (options.tailLines !== undefined) selected = options.tailLines === 0 ? [] : selected.slice(-options.tailLines);
  return selected.map((l) => `${options.timestamps ? `${kubeletLogTime(l.timestamp)} ` : ''}${l.line}\n`);
}

const CHUNK = 64 * 1024;
/** Enough of a record's start to read its stream and tag. */
const HEAD = 64;
/** A record longer than this without a newline is cut: runtimes write records of a few KiB. */
const MAX_RECORD = 1024 * 1024;
const FOLLOW_POLL_MS = 250;

function isFinalRecord(head: Buffer): boolean {
  const [, stream, tag] = head.toString('latin1').split(/[ \n]/, 3);
  return (stream === 'stdout' || stream === 'stderr') && tag === 'F';
}

/** Complete records (newline-terminated) from the last to the first: their start offset and first bytes. */
async function* recordsBackward(handle: FileHandle, end: number): AsyncGenerator<{ start: number; head: Buffer }> {
  let pos = end;
  // File bytes [pos, pos + pending.length): the start of the region not yet split into records, cut to HEAD bytes.
  let pending = Buffer.alloc(0);
  let inRecords = false; // false while still skipping the incomplete record after the last newline
  while (pos > 0) {
    const size = Math.min(CHUNK, pos);
    pos -= size;
    const block = Buffer.alloc(size);
    await handle.read(block, 0, size, pos);
    const data = pending.length ? Buffer.concat([block, pending]) : block;
    let regionEnd = data.length;
    if (!inRecords) {
      const last = data.lastIndexOf(0x0a, size - 1);
      if (last < 0) {
        pending = data.subarray(0, HEAD);
        continue;
      }
      inRecords = true;
      regionEnd = last + 1;
    }
    for (;;) {
      const prev = regionEnd >= 2 ? data.lastIndexOf(0x0a, regionEnd - 2) : -1;
      if (prev < 0) break;
      yield { start: pos + prev + 1, head: data.subarray(prev + 1, Math.min(prev + 1 + HEAD, regionEnd)) };
      regionEnd = prev + 1;
    }
    pending = data.subarray(0, Math.min(regionEnd, HEAD));
  }
  if (inRecords && pending.length > 0) yield { start: 0, head: pending };
}

/** Where the last `lines` whole lines begin (records up to and including a final `F` one). */
async function tailStart(handle: FileHandle, end: number, lines: number): Promise<number> {
  if (lines <= 0) return end;
  let finals = 0;
  let next = end;
  for await (const record of recordsBackward(handle, end)) {
    if (isFinalRecord(record.head) && ++finals === lines + 1) return next;
    next = record.start;
  }
  return 0;
}

/** Joins a record stream, fed in arbitrary chunks, into whole lines. */
class LineAssembler {
  readonly #decoder = new StringDecoder('utf8');
  #carry = '';
  #pending: { timestamp: string; line: string } | undefined;

  push(chunk: Buffer): { timestamp: string; line: string }[] {
    const text = this.#carry + this.#decoder.write(chunk);
    const cut = text.lastIndexOf('\n') + 1;
    this.#carry = text.slice(cut);
    if (this.#carry.length > MAX_RECORD) this.#carry = '';
    const out: { timestamp: string; line: string }[] = [];
    for (const raw of text.slice(0, cut).split('\n')) {
      const record = parseCriLogRecord(raw);
      if (record === undefined) continue;
      const line = (this.#pending?.line ?? '') + record.text;
      if (line.length > MAX_RECORD) {
        this.#pending = undefined;
        continue;
      }
      this.#pending = { timestamp: this.#pending?.timestamp ?? record.timestamp, line };
      if (!record.partial) {
        out.push(this.#pending);
        this.#pending = undefined;
      }
    }
    return out;
  }
}

/**
 * The log as chunks, read a piece at a time (never the whole file): the last `tailLines` lines
 * found by reading backwards from the end, as the kubelet does; `limitBytes` ends the stream.
 * With `follow`, keeps reading what is appended, and the new file when the log is rotated,
 * until `stillRunning` says no or `signal` aborts.
 */
export async function* readContainerLog(
  file: string,
  options: ContainerLogOptions,
  stillRunning: () => Promise<boolean>,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> {
  let handle = await open(file, 'r');
  const since = options.sinceSeconds === undefined ? undefined : Date.now() - options.sinceSeconds * 1000;
  let budget = options.limitBytes ?? Number.POSITIVE_INFINITY;
  const lines = new LineAssembler();
  try {
    let { size, ino } = await handle.stat();
    let offset = options.tailLines === undefined ? 0 : await tailStart(handle, size, options.tailLines);
    let idleRounds = 0;
    for (;;) {
      while (offset < size) {
        const buffer = Buffer.alloc(Math.min(CHUNK, size - offset));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        for (const l of lines.push(buffer.subarray(0, bytesRead))) {
          if (since !== undefined && Date.parse(l.timestamp) < since) continue;
          const out = Buffer.from(`${options.timestamps ? `${kubeletLogTime(l.timestamp)} ` : ''}${l.line}\n`);
          if (out.length >= budget) {
            if (budget > 0) yield out.subarray(0, budget);
            return;
          }
          budget -= out.length;
          yield out;
        }
      }
      if (!options.follow || signal.aborted) return;
      const now = await stat(file).catch(() => undefined);
      if (now !== undefined && now.ino !== ino && offset >= (await handle.stat()).size) {
        // Rotated: the old file is read to its end; go on with the new one from its start.
        await handle.close();
        handle = await open(file, 'r');
        ({ size, ino } = await handle.stat());
        offset = 0;
        continue;
      }
      const grown = now?.ino === ino ? now.size : (await handle.stat()).size;
      if (grown > offset) {
        size = grown;
        idleRounds = 0;
        continue;
      }
      if (grown < offset) {
        size = grown; // truncated in place: start again from its new end
        offset = grown;
      }
      if (++idleRounds % 4 === 0 && !(await stillRunning())) return;
      await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await handle.close();
  }
}
