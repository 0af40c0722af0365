import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import {
  LineSplitter,
  LogPrinter,
  type LogRecord,
  parseGoDuration,
  parseLogLine,
  parseRfc3339Nano,
  parseSince,
  previousLogPath,
  readLogs,
  TailBuffer,
} from './container-log.ts';

class Collector extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Waits until `done` holds, looking every 10 ms (the test's timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 10));
}

function sinks() {
  return { stdout: new Collector(), stderr: new Collector() };
}

function rec(line: string): LogRecord {
  const r = parseLogLine(Buffer.from(line));
  assert.ok(r, `not a log line: ${line}`);
  return r;
}

const T = (s: number) => `2024-01-01T00:00:${String(s).padStart(2, '0')}.5Z`;

test('CRI log lines parse: time, stream, P/F tag, content', () => {
  const r = rec('2026-11-28T12:32:06.91144028Z stdout F out 0');
  assert.equal(r.timestamp, '2026-11-28T12:32:06.91144028Z');
  assert.equal(r.nanos, 1_795_869_126_911_440_280n);
  assert.equal(r.stream, 'stdout');
  assert.equal(r.partial, false);
  assert.equal(r.content.toString(), 'out 0\n');
  const p = rec('2026-11-28T12:32:06Z stderr P part');
  assert.equal(p.partial, true);
  assert.equal(p.content.toString(), 'part');
  assert.equal(rec('2026-11-28T12:32:06Z stdout F:x ').content.toString(), '\n');
  assert.equal(rec('2026-11-28T12:32:06Z stdout F').content.toString(), '\n');
  assert.equal(rec('2026-11-28T12:32:06Z stdout F  two spaces').content.toString(), ' two spaces\n');
  for (const bad of ['', 'garbage', '2026-11-28T12:32:06Z stdin F x', '2026-11-28T12:32:06Z stdout X x', 'notatime stdout F x']) {
    assert.equal(parseLogLine(Buffer.from(bad)), undefined, bad);
  }
  const d = rec('{"log":"hello\\n","stream":"stderr","time":"2024-01-01T00:00:00.000000001Z"}');
  assert.equal(d.stream, 'stderr');
  assert.equal(d.content.toString(), 'hello\n');
  assert.equal(d.nanos, 1_704_067_200_000_000_001n);
  assert.equal(parseRfc3339Nano('2024-01-01T01:00:00+01:00'), 1_704_067_200_000_000_000n);
});

test('the printer joins partial records, sends each stream to its sink, stamps only where a line starts', async () => {
  const out = sinks();
  const printer = new LogPrinter(out, { timestamps: true });
  for (const line of [
    `${T(1)} stdout P hel`,
    `${T(2)} stderr F oops`,
    `${T(3)} stdout P lo `,
    `${T(4)} stdout F world`,
    `${T(5)} stdout F again`,
  ]) {
    await printer.write(rec(line));
  }
  assert.equal(out.stdout.text, `${T(1)} hello world\n${T(5)} again\n`);
  assert.equal(out.stderr.text, `${T(2)} oops\n`);
});

test('--since leaves out lines that started before it, whole; --limit-bytes stops mid-line', async () => {
  const out = sinks();
  const printer = new LogPrinter(out, { sinceNanos: parseRfc3339Nano(T(3)) });
  for (const line of [
    `${T(1)} stdout F one`,
    `${T(2)} stdout P tw`,
    `${T(3)} stdout F o`,
    `${T(3)} stdout F three`,
    `${T(4)} stderr F four`,
  ]) {
    await printer.write(rec(line));
  }
  assert.equal(out.stdout.text, 'three\n');
  assert.equal(out.stderr.text, 'four\n');

  const limited = sinks();
  const p2 = new LogPrinter(limited, { limitBytes: 6 });
  assert.equal(await p2.write(rec(`${T(1)} stdout F abcd`)), true);
  assert.equal(await p2.write(rec(`${T(1)} stderr F efgh`)), false);
  assert.equal(await p2.write(rec(`${T(1)} stdout F more`)), false);
  assert.equal(limited.stdout.text, 'abcd\n');
  assert.equal(limited.stderr.text, 'e');
});

test('--tail counts whole lines: partial records go with the line they belong to', () => {
  const tail = new TailBuffer(2);
  const lines = [
    `${T(1)} stdout F first`,
    `${T(2)} stdout P sec`,
    `${T(3)} stderr F err`,
    `${T(4)} stdout F ond`,
    `${T(5)} stdout F third`,
    `${T(6)} stderr P open`,
  ];
  for (const line of lines) tail.push(rec(line));
  // The last two whole lines are "second" (P+F around the stderr line) and "third", then the open one.
  assert.deepEqual(
    tail.records().map((r) => r.content.toString()),
    ['sec', 'ond\n', 'third\n', 'open'],
  );
  const none = new TailBuffer(0);
  none.push(rec(`${T(1)} stdout F x`));
  assert.deepEqual(none.records(), []);
});

test('the line splitter keeps an unfinished line for later', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(Buffer.from('a\nb')).map(String), ['a']);
  assert.deepEqual(s.push(Buffer.from('c\nd\n')).map(String), ['bc', 'd']);
  assert.equal(s.take(), undefined);
  s.push(Buffer.from('tail'));
  assert.equal(String(s.take()), 'tail');
});

test('--since takes durations, RFC 3339 and Unix seconds', () => {
  const now = 1_704_067_200_000;
  assert.equal(parseSince('42m', now), BigInt(now - 42 * 60_000) * 1_000_000n);
  assert.equal(parseSince('1h30m', now), BigInt(now - 90 * 60_000) * 1_000_000n);
  assert.equal(parseSince('2024-01-01T00:00:00Z'), 1_704_067_200_000_000_000n);
  assert.equal(parseSince('2024-01-01T00:00:00'), 1_704_067_200_000_000_000n);
  assert.equal(parseSince('2024-01-01'), 1_704_067_200_000_000_000n);
  assert.equal(parseSince('1704067200.25'), 1_704_067_200_250_000_000n);
  assert.throws(() => parseSince('yesterday'), /--since/);
  assert.equal(parseGoDuration('1.5s'), 1500);
  assert.equal(parseGoDuration('300ms'), 300);
  assert.equal(parseGoDuration('5'), undefined);
  assert.equal(previousLogPath('/var/log/pods/ns_web_uid/main/2.log', 2), '/var/log/pods/ns_web_uid/main/1.log');
});

async function tempLog(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-logs-test-'));
  return { dir, file: path.join(dir, '0.log') };
}

test('readLogs prints a file, with --tail, and an unfinished last line at the end', async () => {
  const { dir, file } = await tempLog();
  try {
    await writeFile(
      file,
      [
        `${T(1)} stdout F one`,
        `${T(2)} stderr F e1`,
        'not a log line',
        `${T(3)} stdout P tw`,
        `${T(4)} stdout F o`,
        `${T(5)} stdout F three`,
      ].join('\n') + `\n${T(6)} stdout F no newline yet`,
    );
    const all = sinks();
    await readLogs(file, all);
    assert.equal(all.stdout.text, 'one\ntwo\nthree\nno newline yet\n');
    assert.equal(all.stderr.text, 'e1\n');
    const last2 = sinks();
    await readLogs(file, last2, { tail: 2 });
    assert.equal(last2.stdout.text, 'three\nno newline yet\n');
    assert.equal(last2.stderr.text, '');
    const last3 = sinks();
    await readLogs(file, last3, { tail: 3 });
    assert.equal(last3.stdout.text, 'two\nthree\nno newline yet\n');
    await assert.rejects(readLogs(path.join(dir, 'missing.log'), sinks()), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readLogs -f follows appends and rotation, and stops once the container no longer runs', async () => {
  const { dir, file } = await tempLog();
  try {
    await writeFile(file, `${T(1)} stdout F before\n${T(2)} stdout F kept\n`);
    let running = true;
    const out = sinks();
    const done = readLogs(file, out, { tail: 1, follow: { isRunning: async () => running, checkEveryMs: 50, pollMs: 20 } });
    await until(() => out.stdout.text === 'kept\n');
    await appendFile(file, `${T(3)} stdout P half \n`);
    await appendFile(file, `${T(4)} stdout F line\n${T(5)} stderr F `);
    await appendFile(file, 'err written in two steps\n');
    await until(() => out.stdout.text.endsWith('half line\n') && out.stderr.text === 'err written in two steps\n');
    // The runtime rotates: the old file moves away, a new one starts.
    await appendFile(file, `${T(6)} stdout F last of old\n`);
    await rename(file, `${file}.20240101-000000`);
    await writeFile(file, `${T(7)} stdout F first of new\n`);
    await until(() => out.stdout.text.endsWith('first of new\n'));
    await appendFile(file, `${T(8)} stdout F written before exit\n`);
    running = false;
    await done;
    assert.equal(out.stdout.text, 'kept\nhalf line\nlast of old\nfirst of new\nwritten before exit\n');
    assert.equal(out.stderr.text, 'err written in two steps\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readLogs -f ends when aborted, and at once for a container that is not running', async () => {
  const { dir, file } = await tempLog();
  try {
    await writeFile(file, `${T(1)} stdout F only\n`);
    const abort = new AbortController();
    const out = sinks();
    const done = readLogs(file, out, { follow: { isRunning: async () => true, checkEveryMs: 50, pollMs: 20 }, signal: abort.signal });
    await until(() => out.stdout.text === 'only\n');
    abort.abort();
    await done; // a follow that ignored the abort would hold the test until its timeout
    assert.equal(out.stdout.text, 'only\n');
    const exited = sinks();
    await readLogs(file, exited, { follow: { isRunning: async () => false } }); // returns by itself
    assert.equal(exited.stdout.text, 'only\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a broken output (EPIPE) ends readLogs instead of leaving it waiting', async () => {
  const { dir, file } = await tempLog();
  try {
    await writeFile(file, Array.from({ length: 1000 }, (_, i) => `${T(1)} stdout F line ${i}`).join('\n') + '\n');
    const broken = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    broken.on('error', () => undefined);
    await readLogs(file, { stdout: broken, stderr: new Collector() });
    assert.equal(broken.destroyed, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
