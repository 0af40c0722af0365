// grpc-go before 1.52 (the kubelet and crictl up to 1.26) sends the unix socket's path as the
// HTTP/2 `:authority`. These tests write such a client's frames by hand on the socket of a real
// `berth daemon`: the preface, SETTINGS, then HEADERS whose header block comes from a stateful
// HPACK encoder (Huffman strings, literals added to the dynamic table, as grpc-go's encoder does)
// and a DATA frame with the gRPC message. A second request on the same connection refers to the
// first one's headers by dynamic-table index, so it is answered only if both HPACK tables stayed
// in step. A plain Node HTTP/2 server refuses the same bytes: that is what the rewrite is for.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { VersionRequestSchema, VersionResponseSchema } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

const require = createRequire(import.meta.url);
interface Header {
  name: string;
  value: string;
}
interface HpackStream {
  write(data: unknown): void;
  read(): Buffer | Header | null;
  execute(): void;
}
const hpack = require('hpack.js') as {
  compressor: { create(o: { table: { size: number } }): HpackStream };
  decompressor: { create(o: { table: { size: number } }): HpackStream };
};

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8 };
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 };
const PROTOCOL_ERROR = 0x1;
const VERSION_PATH = '/runtime.v1.RuntimeService/Version';

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** A gRPC length-prefixed message (not compressed). */
function grpcMessage(body: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** One HTTP/2 client connection written frame by frame; frames from the server are parsed as they come. */
class RawClient {
  readonly #socket: net.Socket;
  readonly #encoder = hpack.compressor.create({ table: { size: 4096 } });
  readonly #decoder = hpack.decompressor.create({ table: { size: 4096 } });
  #buffer = Buffer.alloc(0);
  readonly frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  closed = false;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 9) {
        const length = this.#buffer.readUIntBE(0, 3);
        if (this.#buffer.length < 9 + length) break;
        const f = {
          type: this.#buffer[3]!,
          flags: this.#buffer[4]!,
          stream: this.#buffer.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.#buffer.subarray(9, 9 + length)),
        };
        this.#buffer = this.#buffer.subarray(9 + length);
        // A server SETTINGS must be acknowledged, as every client does.
        if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        this.frames.push(f);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static async connect(socketPath: string): Promise<RawClient> {
    const socket = net.connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    return client;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** The header block for `headers`, from the connection's one encoder (its dynamic table carries over). */
  encode(headers: Header[]): Buffer {
    this.#encoder.write(headers);
    const chunks: Buffer[] = [];
    for (let c = this.#encoder.read(); c !== null; c = this.#encoder.read()) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Decodes a server header block (in order: the decoder's table is the connection's). */
  decode(block: Buffer): Header[] {
    this.#decoder.write(block);
    this.#decoder.execute();
    const out: Header[] = [];
    for (let h = this.#decoder.read(); h !== null; h = this.#decoder.read()) out.push(h as Header);
    return out;
  }

  /** A unary call as grpc-go writes it; returns the header block it sent. */
  call(stream: number, pathName: string, authority: string, body: Uint8Array): Buffer {
    const block = this.encode([
      { name: ':method', value: 'POST' },
      { name: ':scheme', value: 'http' },
      { name: ':path', value: pathName },
      { name: ':authority', value: authority },
      { name: 'content-type', value: 'application/grpc' },
      { name: 'user-agent', value: 'grpc-go/1.51.0' },
      { name: 'te', value: 'trailers' },
    ]);
    this.#socket.write(
      Buffer.concat([frame(FRAME.HEADERS, FLAG.END_HEADERS, stream, block), frame(FRAME.DATA, FLAG.END_STREAM, stream, grpcMessage(body))]),
    );
    return block;
  }

  /** Waits until `done` holds for the frames seen so far (or the connection closed). */
  async until(what: string, done: (frames: Frame[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (!done(this.frames)) {
      if (this.closed) throw new Error(`connection closed before ${what}; frames: ${JSON.stringify(this.frames.map(describeFrame))}`);
      if (deadline.aborted) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        deadline.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

function describeFrame(f: Frame): string {
  return `type ${f.type} flags ${f.flags} stream ${f.stream} (${f.payload.length} bytes)`;
}

interface Answer {
  headers: Header[];
  trailers: Header[];
  data: Buffer;
}

/** Waits for the stream's response (headers, data, trailers ending the stream), decoding header blocks in connection order. */
async function answer(client: RawClient, stream: number, decoded: Map<Frame, Header[]>): Promise<Answer> {
  await client.until(`the answer on stream ${stream}`, (frames) =>
    frames.some((f) => f.stream === stream && (f.flags & FLAG.END_STREAM || f.type === FRAME.RST_STREAM) && f.type !== FRAME.DATA),
  );
  // Every header block goes through the decoder once, in the order it came (HPACK state).
  for (const f of client.frames) if (f.type === FRAME.HEADERS && !decoded.has(f)) decoded.set(f, client.decode(f.payload));
  const own = client.frames.filter((f) => f.stream === stream);
  const reset = own.find((f) => f.type === FRAME.RST_STREAM);
  assert.equal(reset, undefined, `stream ${stream} was reset (code ${reset?.payload.readUInt32BE(0)})`);
  const blocks = own.filter((f) => f.type === FRAME.HEADERS);
  return {
    headers: decoded.get(blocks[0]!) ?? [],
    trailers: decoded.get(blocks.at(-1)!) ?? [],
    data: Buffer.concat(own.filter((f) => f.type === FRAME.DATA).map((f) => f.payload)),
  };
}

const value = (headers: Header[], name: string) => headers.find((h) => h.name === name)?.value;

/** The table indexes of a header block made only of indexed fields (one byte each), or undefined. */
function indexedOnly(block: Buffer): number[] | undefined {
  const out = [...block].map((b) => (b & 0x80 && (b & 0x7f) < 0x7f ? b & 0x7f : -1));
  return out.includes(-1) ? undefined : out;
}

let daemon: TestDaemon;

describe('old grpc-go clients: the socket path as :authority, in raw HTTP/2 frames', { timeout: 120_000 }, () => {
  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon?.stop();
  });

  test('berth daemon answers two calls on one connection, the second by dynamic-table reference', async () => {
    const client = await RawClient.connect(daemon.socket);
    try {
      const decoded = new Map<Frame, Header[]>();
      const body = toBinary(VersionRequestSchema, create(VersionRequestSchema, { version: '0.1.0' }));
      // grpc-go's "passthrough" target of a unix dial: the path itself.
      const authority = daemon.socket;
      assert.match(authority, /\//, 'the authority is a path, which nghttp2 refuses');

      client.call(1, VERSION_PATH, authority, body);
      const first = await answer(client, 1, decoded);
      assert.equal(value(first.headers, ':status'), '200');
      assert.equal(value(first.trailers, 'grpc-status'), '0', `grpc-message: ${value(first.trailers, 'grpc-message')}`);
      const version = fromBinary(VersionResponseSchema, first.data.subarray(5));
      assert.equal(version.runtimeName, 'berth');
      assert.equal(version.runtimeApiVersion, 'v1');

      // Same headers again: the encoder now sends them as references into its dynamic table.
      const second = client.call(3, VERSION_PATH, authority, body);
      const indexes = indexedOnly(second);
      assert.equal(indexes?.length, 7, `the second block is seven table references (${second.toString('hex')})`);
      assert.ok(indexes.filter((i) => i > 61).length >= 5, 'five of them into the dynamic table, :authority among them');
      const again = await answer(client, 3, decoded);
      assert.equal(value(again.headers, ':status'), '200');
      assert.equal(value(again.trailers, 'grpc-status'), '0', `grpc-message: ${value(again.trailers, 'grpc-message')}`);
      assert.deepEqual(fromBinary(VersionResponseSchema, again.data.subarray(5)), version);
      assert.equal(client.closed, false, 'the connection stays open');
      assert.equal(
        client.frames.find((f) => f.type === FRAME.GOAWAY),
        undefined,
        'no GOAWAY',
      );
    } finally {
      client.close();
    }
  });

  test('an unknown method on such a connection gets UNIMPLEMENTED, and the connection goes on', async () => {
    const client = await RawClient.connect(daemon.socket);
    try {
      const decoded = new Map<Frame, Header[]>();
      client.call(1, '/runtime.v1.RuntimeService/NoSuchCall', daemon.socket, new Uint8Array());
      const missing = await answer(client, 1, decoded);
      assert.equal(value(missing.trailers, 'grpc-status') ?? value(missing.headers, 'grpc-status'), '12');
      client.call(3, VERSION_PATH, daemon.socket, toBinary(VersionRequestSchema, create(VersionRequestSchema, {})));
      const ok = await answer(client, 3, decoded);
      assert.equal(value(ok.trailers, 'grpc-status'), '0');
    } finally {
      client.close();
    }
  });

  test('a plain Node HTTP/2 server refuses the same frames with PROTOCOL_ERROR (what the rewrite is for)', async (t) => {
    const temp: TempDir = await makeTempDir('berth-h2-');
    t.after(() => temp.remove());
    const socketPath = path.join(temp.path, 'plain.sock');
    const server = http2.createServer();
    let requests = 0;
    server.on('stream', (s) => {
      requests++;
      s.respond({ ':status': 200 });
      s.end();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = await RawClient.connect(socketPath);
    try {
      client.call(1, VERSION_PATH, socketPath, toBinary(VersionRequestSchema, create(VersionRequestSchema, {})));
      await client.until('the refusal', (frames) => frames.some((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY));
      const refusal = client.frames.find((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY)!;
      const code = refusal.type === FRAME.RST_STREAM ? refusal.payload.readUInt32BE(0) : refusal.payload.readUInt32BE(4);
      assert.equal(code, PROTOCOL_ERROR);
      assert.equal(requests, 0, 'the server never saw the request');
    } finally {
      client.close();
    }
  });
});
