import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  criLogLine,
  criLogTime,
  DockerLogDecoder,
  dockerSince,
  type LogRecord,
  MAX_RECORD_TEXT,
  parseTimeNs,
} from './docker-log-decoder.ts';

const T1 = '2026-12-04T20:00:50.123456789Z';
const T2 = '2026-12-04T20:00:51.000000001Z';

function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function decodeBytewise(tty: boolean, data: Buffer): LogRecord[] {
  const d = new DockerLogDecoder(tty);
  const out: LogRecord[] = [];
  for (let i = 0; i < data.length; i++) out.push(...d.push(data.subarray(i, i + 1)));
  return [...out, ...d.end()];
}

const brief = (rs: LogRecord[]) => rs.map((r) => [r.stream, r.partial ? 'P' : 'F', r.text.toString()]);

test('times: RFC 3339 ↔ ns, as conmon writes them, as Docker takes since=', () => {
  const ns = parseTimeNs(T1)!;
  assert.equal(ns, 1796414450123456789n);
  assert.equal(parseTimeNs('2026-12-04T20:00:50.123456789+00:00'), ns);
  assert.equal(parseTimeNs('2026-12-04T21:00:50.1+01:00'), 1796414450100000000n);
  assert.equal(criLogTime(ns), '2026-12-04T20:00:50.123456789+00:00');
  assert.equal(dockerSince(ns), '1796414450.123456789');
  assert.equal(parseTimeNs('yesterday'), undefined);
  assert.equal(
    criLogLine({ timeNs: ns, stream: 'stderr', partial: true, text: Buffer.from('x') }).toString(),
    `${criLogTime(ns)} stderr P x\n`,
  );
});

test('multiplexed frames, cut anywhere: streams, full lines, a partial message', () => {
  const data = Buffer.concat([frame(1, `${T1} out\n`), frame(2, `${T1} err\n`), frame(1, `${T2} part`), frame(1, `${T2} ial\n`)]);
  assert.deepEqual(brief(decodeBytewise(false, data)), [
    ['stdout', 'F', 'out'],
    ['stderr', 'F', 'err'],
    ['stdout', 'P', 'part'],
    ['stdout', 'F', 'ial'],
  ]);
  assert.equal(decodeBytewise(false, data)[2]!.timeNs, parseTimeNs(T2));
});

test('a line longer than 16 KiB in one frame goes out in P records of at most 16 KiB', () => {
  const long = 'z'.repeat(MAX_RECORD_TEXT * 2 + 10);
  const rs = new DockerLogDecoder(false).push(frame(1, `${T1} ${long}\n`));
  assert.deepEqual(
    rs.map((r) => [r.partial, r.text.length]),
    [
      [true, MAX_RECORD_TEXT],
      [true, MAX_RECORD_TEXT],
      [false, 10],
    ],
  );
});

test('TTY: raw messages, all stdout; a partial message ends where the next stamp follows it', () => {
  const data = Buffer.from(`${T1} hello\r\n${T1} prompt ${T2} rest\n${T2} mentions ${T1} inside\n`);
  assert.deepEqual(brief(decodeBytewise(true, data)), [
    ['stdout', 'F', 'hello\r'],
    ['stdout', 'P', 'prompt '],
    ['stdout', 'F', 'rest'],
    ['stdout', 'F', `mentions ${T1} inside`], // an older time in the text is text
  ]);
});

test('TTY: Docker cut a long line at 16 KiB and the next stamp straddles two chunks', () => {
  const cutLine = 'a'.repeat(MAX_RECORD_TEXT);
  const data = Buffer.from(`${T1} ${cutLine}${T2} rest\n`);
  const d = new DockerLogDecoder(true);
  const at = data.length - ' rest\n'.length - 10; // inside the second stamp
  const rs = [...d.push(data.subarray(0, at)), ...d.push(data.subarray(at)), ...d.end()];
  assert.deepEqual(
    rs.map((r) => [r.partial, r.text.toString()]),
    [
      [true, cutLine],
      [false, 'rest'],
    ],
  );
});

test('the end of the stream flushes a last line without newline as P', () => {
  const d = new DockerLogDecoder(true);
  assert.deepEqual(d.push(Buffer.from(`${T1} $ `)), []);
  assert.deepEqual(brief(d.end()), [['stdout', 'P', '$ ']]);
});
