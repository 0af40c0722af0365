// readContainerLog on large files, rotation and limits: read in pieces, as the kubelet reads.
import assert from 'node:assert/strict';
import { appendFile, open, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import type { ContainerLogOptions } from '../../agent/provider.ts';
import { readContainerLog } from './container-logs.ts';

const record = (i: number, tag: 'F' | 'P', text: string) =>
  `2024-05-01T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000000000Z stdout ${tag} ${text}\n`;

async function readAll(file: string, options: ContainerLogOptions, stillRunning = async () => false): Promise<string> {
  let out = '';
  for await (const chunk of readContainerLog(file, options, stillRunning, new AbortController().signal))
    out += Buffer.from(chunk).toString();
  return out;
}

test('tail finds the last lines by reading backwards, partial records joined, across block boundaries', async () => {
  await using dir = await makeTempDir('berth-logs-');
  const file = path.join(dir.path, '0.log');
  const fh = await open(file, 'w');
  const filler = 'x'.repeat(1000);
  for (let i = 0; i < 300; i++) await fh.write(record(i, 'F', `${i} ${filler}`));
  // A line of three records that spans a 64 KiB block edge, then a last line and a trailing partial.
  await fh.write(record(300, 'P', 'a'.repeat(40_000)) + record(301, 'P', 'b'.repeat(40_000)) + record(302, 'F', 'c'));
  await fh.write(record(303, 'F', 'last'));
  await fh.write(record(304, 'P', 'unfinished'));
  await fh.write('2024-05-01T10:05:05.0Z stdout F no newline yet');
  await fh.close();
  assert.equal(await readAll(file, { tailLines: 1 }), 'last\n');
  assert.equal(await readAll(file, { tailLines: 2 }), `${'a'.repeat(40_000)}${'b'.repeat(40_000)}c\nlast\n`);
  const three = (await readAll(file, { tailLines: 3 })).split('\n');
  assert.equal(three[0], `299 ${filler}`);
  assert.equal((await readAll(file, { tailLines: 0 })).length, 0);
  assert.equal((await readAll(file, {})).split('\n').length, 303);
  assert.equal((await readAll(file, { tailLines: 10_000 })).split('\n').length, 303);
});

test('limitBytes cuts the output; since and timestamps apply to whole lines', async () => {
  await using dir = await makeTempDir('berth-logs-');
  const file = path.join(dir.path, '0.log');
  await writeFile(file, record(0, 'F', 'first line') + record(1, 'P', 'sec') + record(2, 'F', 'ond'));
  assert.equal(await readAll(file, { limitBytes: 5 }), 'first');
  assert.equal(await readAll(file, { limitBytes: 11 }), 'first line\n');
  assert.equal(await readAll(file, { limitBytes: 0 }), '');
  assert.equal(await readAll(file, { tailLines: 1, timestamps: true }), '2024-05-01T10:00:01Z second\n');
});

test('follow goes on in the new file after a rotation (rename, then the runtime reopens)', async () => {
  await using dir = await makeTempDir('berth-logs-');
  const file = path.join(dir.path, '0.log');
  await writeFile(file, record(0, 'F', 'before'));
  let running = true;
  const got: string[] = [];
  let notify: (() => void) | undefined;
  const seen = (line: string) =>
    new Promise<void>((resolve) => {
      notify = () => got.includes(line) && resolve();
      notify();
    });
  const reading = (async () => {
    for await (const chunk of readContainerLog(file, { follow: true }, async () => running, new AbortController().signal)) {
      got.push(...Buffer.from(chunk).toString().split('\n').filter(Boolean));
      notify?.();
    }
  })();
  await seen('before');
  await appendFile(file, record(1, 'F', 'old file, last line'));
  await rename(file, `${file}.20240501-100000`);
  await writeFile(file, record(2, 'F', 'new file'));
  await seen('new file');
  await appendFile(file, record(3, 'F', 'appended to the new file'));
  await seen('appended to the new file');
  running = false;
  await reading;
  assert.deepEqual(got, ['before', 'old file, last line', 'new file', 'appended to the new file']);
});

test('a large log is read in pieces: memory does not grow with the file', async () => {
  await using dir = await makeTempDir('berth-logs-');
  const file = path.join(dir.path, '0.log');
  const fh = await open(file, 'w');
  const block = Array.from({ length: 1000 }, (_, i) => record(i, 'F', 'y'.repeat(200))).join('');
  for (let i = 0; i < 1000; i++) await fh.write(block); // about 250 MB
  await fh.close();
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let bytes = 0;
  for await (const chunk of readContainerLog(file, {}, async () => false, new AbortController().signal)) {
    bytes += chunk.byteLength;
    if (bytes % (8 << 20) < chunk.byteLength) peak = Math.max(peak, process.memoryUsage().rss);
  }
  assert.equal(bytes, 1_000_000 * 201);
  assert.equal(await readAll(file, { tailLines: 2 }), `${'y'.repeat(200)}\n${'y'.repeat(200)}\n`);
  assert.ok(peak - before < 100 * 1024 * 1024, `RSS grew by ${Math.round((peak - before) / 1048576)} MB while reading a 250 MB log`);
});
