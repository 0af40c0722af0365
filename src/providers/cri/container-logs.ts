// Container logs in the CRI log format (`<RFC 3339 nano time> <stdout|stderr> <P|F> <text>`, one
// record per line, P for a partial line continued by the next record), read back as the kubelet
// serves them: text only, or with its timestamp; the last N lines; newer than some seconds;
// following the file while the container runs.
import { open, stat } from 'node:fs/promises';
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

/** The log as chunks; with `follow`, keeps reading what is appended until `stillRunning` says no or `signal` aborts. */
export async function* readContainerLog(
  file: string,
  options: ContainerLogOptions,
  stillRunning: () => Promise<boolean>,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const initial = await handle.readFile('utf8');
    let offset = Buffer.byteLength(initial);
    let carry = initial.slice(initial.lastIndexOf('\n') + 1);
    const complete = initial.slice(0, initial.length - carry.length);
    for (const line of selectLines(logLines(complete), options)) yield Buffer.from(line);
    if (!options.follow) return;
    let idleRounds = 0;
    while (!signal.aborted) {
      const { size } = await stat(file);
      if (size > offset) {
        idleRounds = 0;
        const buffer = Buffer.alloc(size - offset);
        await handle.read(buffer, 0, buffer.length, offset);
        offset = size;
        const text = carry + buffer.toString('utf8');
        carry = text.slice(text.lastIndexOf('\n') + 1);
        for (const line of selectLines(logLines(text.slice(0, text.length - carry.length)), { timestamps: options.timestamps }))
          yield Buffer.from(line);
        continue;
      }
      if (++idleRounds % 4 === 0 && !(await stillRunning())) return;
      await sleep(250, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await handle.close();
  }
}
