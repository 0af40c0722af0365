import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { demuxDockerStream } from './docker-stream-demux.ts';

function frame(type: number, payload: string | Buffer): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function collect(r: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let t = '';
    r.on('data', (d: Buffer) => (t += d.toString()));
    r.once('end', () => resolve(t));
  });
}

test('frames split anywhere, even inside the header, land on their stream; the engine error text goes to stderr', async () => {
  const source = new PassThrough();
  const { stdout, stderr } = demuxDockerStream(source);
  const [out, err] = [collect(stdout), collect(stderr)];
  const bytes = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n'), frame(3, 'engine says no\n'), frame(1, '')]);
  for (let i = 0; i < bytes.length; i += 3) source.write(bytes.subarray(i, i + 3));
  source.end();
  assert.equal(await out, 'hello world\n');
  assert.equal(await err, 'oops\nengine says no\n');
});

test('a full output pauses the source until it is read; an output destroyed holds nothing back', async () => {
  const source = new PassThrough();
  const { stdout, stderr } = demuxDockerStream(source);
  source.write(frame(1, Buffer.alloc(64 * 1024, 'a')));
  await new Promise((r) => setImmediate(r));
  assert.equal(source.isPaused(), true);
  stderr.destroy();
  const out = collect(stdout);
  source.end(frame(2, 'dropped'));
  assert.equal((await out).length, 64 * 1024);
});
