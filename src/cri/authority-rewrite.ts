// gRPC clients that dial a unix socket by path (grpc-go before 1.52, kubelet and crictl up to
// 1.26) send the path as the HTTP/2 `:authority`. Node's HTTP/2 (nghttp2) rejects such a request
// with PROTOCOL_ERROR. This layer sits between the socket and the HTTP/2 server and rewrites an
// invalid `:authority` in the client's HEADERS frames to a valid value of the same length (so that
// both HPACK dynamic tables stay in step); everything else passes through untouched.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const require = createRequire(import.meta.url);
interface HpackDecoder {
  buffer: { size: number };
  push(chunk: Buffer): void;
  isEmpty(): boolean;
  decodeBit(): number;
  decodeInt(): number;
  decodeStr(): Buffer | number[];
}
// The package's entry point exports its low-level decoder beside the (de)compressors.
const HpackDecoderClass = (require('hpack.js') as { decoder: new () => HpackDecoder }).decoder;

const PREFACE_LENGTH = 24;
const FRAME_HEADER_LENGTH = 9;
const TYPE_HEADERS = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const AUTHORITY_STATIC_INDEX = 1;

// RFC 3986 authority characters, as nghttp2 checks them.
const AUTHORITY_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

function encodeRawString(value: Buffer): Buffer {
  const len = value.length;
  const prefix: number[] = [];
  if (len < 127) prefix.push(len);
  else {
    prefix.push(127);
    let rest = len - 127;
    while (rest >= 128) {
      prefix.push((rest & 0x7f) | 0x80);
      rest >>>= 7;
    }
    prefix.push(rest);
  }
  return Buffer.concat([Buffer.from(prefix), value]);
}

/** The header block with an invalid `:authority` value made valid, or undefined when it needs no change. */
export function rewriteHeaderBlock(block: Buffer): Buffer | undefined {
  const d = new HpackDecoderClass();
  d.push(block);
  const pos = () => block.length - d.buffer.size;
  const edits: { start: number; end: number; bytes: Buffer }[] = [];
  const skipBits = (n: number) => {
    for (let i = 0; i < n; i++) d.decodeBit();
  };
  try {
    while (!d.isEmpty()) {
      const b = block[pos()]!;
      let index: number;
      if (b & 0x80) {
        skipBits(1);
        d.decodeInt();
        continue;
      } else if (b & 0x40) {
        skipBits(2);
        index = d.decodeInt();
      } else if (b & 0x20) {
        skipBits(3);
        d.decodeInt();
        continue;
      } else {
        skipBits(4);
        index = d.decodeInt();
      }
      let isAuthority = index === AUTHORITY_STATIC_INDEX;
      if (index === 0) isAuthority = Buffer.from(d.decodeStr()).toString('latin1') === ':authority';
      const start = pos();
      const value = Buffer.from(d.decodeStr());
      const text = value.toString('latin1');
      if (isAuthority && !AUTHORITY_OK.test(text)) {
        const fixed = Buffer.from(text.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]/g, '-'), 'latin1');
        edits.push({ start, end: pos(), bytes: encodeRawString(fixed) });
      }
    }
  } catch {
    return undefined; // not HPACK we understand: leave it to the HTTP/2 server to judge
  }
  if (edits.length === 0) return undefined;
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(block.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  parts.push(block.subarray(at));
  return Buffer.concat(parts);
}

function rewriteHeadersFrame(frame: Buffer): Buffer {
  const flags = frame[4]!;
  let offset = FRAME_HEADER_LENGTH;
  let padLength = 0;
  if (flags & FLAG_PADDED) padLength = frame[offset++]!;
  if (flags & FLAG_PRIORITY) offset += 5;
  const blockEnd = frame.length - padLength;
  if (offset > blockEnd) return frame;
  const block = rewriteHeaderBlock(frame.subarray(offset, blockEnd));
  if (!block) return frame;
  const out = Buffer.concat([frame.subarray(0, offset), block, frame.subarray(blockEnd)]);
  out.writeUIntBE(out.length - FRAME_HEADER_LENGTH, 0, 3);
  return out;
}

/** Wraps an accepted socket: the HTTP/2 server reads the client's bytes with `:authority` fixed. */
export class AuthorityFixingStream extends Duplex {
  #socket: Socket;
  #pending = Buffer.alloc(0);
  #prefaceLeft = PREFACE_LENGTH;
  /** Bytes of a non-HEADERS frame payload still to pass through. */
  #passLeft = 0;

  constructor(socket: Socket) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const out = this.#transform(chunk);
      if (out.length > 0 && !this.push(out)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.#socket.write(chunk, done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.#socket.end(done);
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    this.#socket.destroy(error ?? undefined);
    done(error);
  }

  #transform(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.#prefaceLeft > 0 || this.#passLeft > 0) {
        const n = Math.min(data.length, this.#prefaceLeft > 0 ? this.#prefaceLeft : this.#passLeft);
        out.push(data.subarray(0, n));
        data = data.subarray(n);
        if (this.#prefaceLeft > 0) this.#prefaceLeft -= n;
        else this.#passLeft -= n;
        continue;
      }
      if (data.length < FRAME_HEADER_LENGTH) break;
      const length = data.readUIntBE(0, 3);
      const type = data[3]!;
      const flags = data[4]!;
      if (type === TYPE_HEADERS && flags & FLAG_END_HEADERS) {
        if (data.length < FRAME_HEADER_LENGTH + length) break;
        out.push(rewriteHeadersFrame(data.subarray(0, FRAME_HEADER_LENGTH + length)));
        data = data.subarray(FRAME_HEADER_LENGTH + length);
      } else {
        out.push(data.subarray(0, FRAME_HEADER_LENGTH));
        data = data.subarray(FRAME_HEADER_LENGTH);
        this.#passLeft = length;
      }
    }
    if (data.length > 0) this.#pending = Buffer.from(data);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}
