import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { kubeletLogTime, logLines, parseCriLogRecord, readContainerLog, selectLines } from './container-logs.ts';

const log = [
  '2024-05-01T10:00:00.000000001Z stdout F first',
  '2024-05-01T10:00:01.000000000Z stderr P sec',
  '2024-05-01T10:00:01.500000000Z stderr F ond',
  '2024-05-01T10:00:02.000000000Z stdout F ',
  'garbage',
  '2024-05-01T10:00:03.000000000Z stdout F third',
  '',
].join('\n');

test('records and lines', () => {
  assert.deepEqual(parseCriLogRecord('2024-05-01T10:00:00Z stdout F hello world'), {
    timestamp: '2024-05-01T10:00:00Z',
    stream: 'stdout',
    partial: false,
    text: 'hello world',
  });
  assert.deepEqual(
    logLines(log).map((l) => l.line),
    ['first', 'second', '', 'third'],
  );
});

test('tail, timestamps and since', () => {
  const lines = logLines(log);
  assert.deepEqual(selectLines(lines, {}), ['first\n', 'second\n', '\n', 'third\n']);
  assert.deepEqual(selectLines(lines, { tailLines: 2 }), ['\n', 'third\n']);
  assert.deepEqual(selectLines(lines, { tailLines: 1, timestamps: true }), ['2024-05-01T10:00:03Z third\n']);
  assert.deepEqual(selectLines(lines, { sinceSeconds: 2 }, Date.parse('2024-05-01T10:00:04Z')), ['\n', 'third\n']);
});

test('timestamps are written back as the kubelet writes them: RFC 3339 in UTC, no trailing zeros', () => {
  assert.equal(kubeletLogTime('2026-11-28T13:13:01.289144905+00:00'), '2026-11-28T13:13:01.289144905Z');
  assert.equal(kubeletLogTime('2024-05-01T10:00:01.500000000Z'), '2024-05-01T10:00:01.5Z');
  assert.equal(kubeletLogTime('2024-05-01T10:00:01.000Z'), '2024-05-01T10:00:01Z');
  assert.equal(kubeletLogTime('2024-05-01T12:30:01.25+02:30'), '2024-05-01T10:00:01.25Z');
  assert.equal(kubeletLogTime('not a time'), 'not a time');
});

test('follow reads appended lines until the container stops', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-logs-'));
  try {
    const file = path.join(dir, '0.log');
    await writeFile(file, '2024-05-01T10:00:00Z stdout F one\n2024-05-01T10:00:00Z stdout P tw');
    let running = true;
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const chunk of readContainerLog(file, { follow: true }, async () => running, new AbortController().signal))
        chunks.push(Buffer.from(chunk).toString());
    })();
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => chunks.includes('one\n'));
    await appendFile(file, '\n2024-05-01T10:00:01Z stdout F o\n');
    await until(() => chunks.includes('two\n'));
    running = false;
    await reading;
    assert.deepEqual(chunks, ['one\n', 'two\n']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
