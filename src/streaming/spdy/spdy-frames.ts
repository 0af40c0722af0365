import { BerthError, internal } from '../../errors/errors.ts';
// SPDY/3.1 framing (the protocol under the Kubernetes streaming upgrade "SPDY/3.1"): frame
// layouts, name/value header blocks, and an incremental parser. Header blocks travel compressed;
// compression is spdy-header-codec.ts's job, so this module deals in already (de)compressed blocks.
//
//   control frame: |1| version (15) | type (16) | flags (8) | length (24) | payload
//   data frame:    |0| stream ID (31)           | flags (8) | length (24) | payload
//
// Kubernetes clients and servers (moby/spdystream) write version 3 and do not do flow control;
// WINDOW_UPDATE and SETTINGS are still parsed and written here for peers that do.

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR = 0x01;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** SETTINGS IDs used here. */
export const SettingsId = { MAX_CONCURRENT_STREAMS: 4, INITIAL_WINDOW_SIZE: 7 } as const;

/** The largest payload a frame can carry (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xff_ffff;
/** SPDY/3's initial flow-control window, per stream and (3.1) per session. */
export const DEFAULT_WINDOW = 64 * 1024;

/** Header names are lower case; a name may carry several values (NUL-separated on the wire). */
export type SpdyHeaders = Record<string, string[]>;

export type SpdyFrame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedTo: number;
      priority: number;
      flags: number;
      headers: SpdyHeaders;
    }
  | { type: 'syn_reply'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'headers'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: { id: number; flags: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type this module does not know (CREDENTIAL, NOOP): skipped. */
  | { type: 'unknown'; controlType: number; flags: number };

/** Frames whose payload ends in a compressed header block. */
export type HeaderFrame = Extract<SpdyFrame, { headers: SpdyHeaders }>;

export class SpdyProtocolError extends BerthError {
  readonly streamId: number;
  constructor(message: string, streamId = 0) {
    super('invalid-argument', 'spdy-protocol-error', message, { fields: { streamId } });
    this.name = 'SpdyProtocolError';
    this.streamId = streamId;
  }
}

// ---------------------------------------------------------------- header blocks

/** The uncompressed name/value block: count, then length-prefixed names and NUL-joined values. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(names.length);
  parts.push(count);
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(headers[name]!.join('\0'), 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer, streamId = 0): SpdyHeaders {
  const fail = (why: string): never => {
    throw new SpdyProtocolError(`bad header block: ${why}`, streamId);
  };
  if (block.length < 4) fail('too short');
  const count = block.readUInt32BE(0);
  let off = 4;
  const headers: SpdyHeaders = {};
  const take = (): string => {
    if (off + 4 > block.length) fail('truncated length');
    const len = block.readUInt32BE(off);
    off += 4;
    if (off + len > block.length) fail('truncated string');
    const s = block.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = take();
    if (name === '') fail('empty header name');
    const value = take();
    const key = name.toLowerCase();
    if (key in headers) fail(`duplicate header ${key}`);
    headers[key] = value.split('\0');
  }
  return headers;
}

/** The first value of a header, by case-insensitive name. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0];
}

// ---------------------------------------------------------------- encoding

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`control frame too large (${payload.length} bytes)`);
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    b.writeUInt32BE(v >>> 0, i * 4);
  });
  return b;
}

/** A DATA frame (payload up to 16 MiB - 1). */
export function encodeDataFrame(streamId: number, data: Buffer, fin: boolean): Buffer {
  if (data.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`data frame too large (${data.length} bytes)`, streamId);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fff_ffff, 0);
  head.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24) | data.length, 4);
  return data.length === 0 ? head : Buffer.concat([head, data]);
}

/**
 * Any frame but DATA. Header frames take their block already compressed (`compressedHeaders`);
 * the others ignore it.
 */
export function encodeControlFrame(frame: Exclude<SpdyFrame, { type: 'data' } | { type: 'unknown' }>, compressedHeaders?: Buffer): Buffer {
  const block = (): Buffer => {
    if (compressedHeaders === undefined) throw internal('spdy-header-block-missing', `${frame.type} needs its compressed header block`);
    return compressedHeaders;
  };
  switch (frame.type) {
    case 'syn_stream': {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(frame.streamId & 0x7fff_ffff, 0);
      fixed.writeUInt32BE(frame.associatedTo & 0x7fff_ffff, 4);
      fixed.writeUInt8((frame.priority & 0x7) << 5, 8);
      fixed.writeUInt8(0, 9); // credential slot
      return controlFrame(FrameType.SYN_STREAM, frame.flags, Buffer.concat([fixed, block()]));
    }
    case 'syn_reply':
      return controlFrame(FrameType.SYN_REPLY, frame.flags, Buffer.concat([u32(frame.streamId & 0x7fff_ffff), block()]));
    case 'headers':
      return controlFrame(FrameType.HEADERS, frame.flags, Buffer.concat([u32(frame.streamId & 0x7fff_ffff), block()]));
    case 'rst_stream':
      return controlFrame(FrameType.RST_STREAM, 0, u32(frame.streamId & 0x7fff_ffff, frame.status));
    case 'settings': {
      const body = Buffer.alloc(4 + frame.entries.length * 8);
      body.writeUInt32BE(frame.entries.length, 0);
      frame.entries.forEach((e, i) => {
        body.writeUInt32BE(((e.flags & 0xff) << 24) | (e.id & 0xff_ffff), 4 + i * 8);
        body.writeUInt32BE(e.value >>> 0, 8 + i * 8);
      });
      return controlFrame(FrameType.SETTINGS, frame.flags, body);
    }
    case 'ping':
      return controlFrame(FrameType.PING, 0, u32(frame.id));
    case 'goaway':
      return controlFrame(FrameType.GOAWAY, 0, u32(frame.lastGoodStreamId & 0x7fff_ffff, frame.status));
    case 'window_update':
      return controlFrame(FrameType.WINDOW_UPDATE, 0, u32(frame.streamId & 0x7fff_ffff, frame.delta & 0x7fff_ffff));
  }
}

// ---------------------------------------------------------------- parsing

/**
 * A frame as read off the wire. Header frames still hold their compressed block in `compressed`;
 * the caller decompresses it (in order: the compression context spans the session) and calls
 * `withHeaders`.
 */
export type RawFrame =
  | { kind: 'frame'; frame: SpdyFrame }
  | { kind: 'headers'; compressed: Buffer; withHeaders: (headers: SpdyHeaders) => HeaderFrame; streamId: number };

function parseControl(type: number, flags: number, payload: Buffer): RawFrame {
  const need = (n: number, what: string): void => {
    if (payload.length < n) throw new SpdyProtocolError(`${what} frame too short (${payload.length} bytes)`);
  };
  switch (type) {
    case FrameType.SYN_STREAM: {
      need(10, 'SYN_STREAM');
      const streamId = payload.readUInt32BE(0) & 0x7fff_ffff;
      const associatedTo = payload.readUInt32BE(4) & 0x7fff_ffff;
      const priority = payload.readUInt8(8) >> 5;
      return {
        kind: 'headers',
        streamId,
        compressed: payload.subarray(10),
        withHeaders: (headers) => ({ type: 'syn_stream', streamId, associatedTo, priority, flags, headers }),
      };
    }
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS: {
      need(4, type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS');
      const streamId = payload.readUInt32BE(0) & 0x7fff_ffff;
      const kind = type === FrameType.SYN_REPLY ? ('syn_reply' as const) : ('headers' as const);
      return {
        kind: 'headers',
        streamId,
        compressed: payload.subarray(4),
        withHeaders: (headers) => ({ type: kind, streamId, flags, headers }),
      };
    }
    case FrameType.RST_STREAM:
      need(8, 'RST_STREAM');
      return {
        kind: 'frame',
        frame: { type: 'rst_stream', streamId: payload.readUInt32BE(0) & 0x7fff_ffff, status: payload.readUInt32BE(4) },
      };
    case FrameType.SETTINGS: {
      need(4, 'SETTINGS');
      const n = payload.readUInt32BE(0);
      need(4 + n * 8, 'SETTINGS');
      const entries = [];
      for (let i = 0; i < n; i++) {
        const idFlags = payload.readUInt32BE(4 + i * 8);
        entries.push({ flags: idFlags >>> 24, id: idFlags & 0xff_ffff, value: payload.readUInt32BE(8 + i * 8) });
      }
      return { kind: 'frame', frame: { type: 'settings', flags, entries } };
    }
    case FrameType.PING:
      need(4, 'PING');
      return { kind: 'frame', frame: { type: 'ping', id: payload.readUInt32BE(0) } };
    case FrameType.GOAWAY:
      need(4, 'GOAWAY');
      return {
        kind: 'frame',
        frame: {
          type: 'goaway',
          lastGoodStreamId: payload.readUInt32BE(0) & 0x7fff_ffff,
          status: payload.length >= 8 ? payload.readUInt32BE(4) : GoAwayStatus.OK,
        },
      };
    case FrameType.WINDOW_UPDATE:
      need(8, 'WINDOW_UPDATE');
      return {
        kind: 'frame',
        frame: { type: 'window_update', streamId: payload.readUInt32BE(0) & 0x7fff_ffff, delta: payload.readUInt32BE(4) & 0x7fff_ffff },
      };
    default:
      return { kind: 'frame', frame: { type: 'unknown', controlType: type, flags } };
  }
}

/** Cuts a byte stream into frames. Feed it with push(); it returns the complete frames seen so far. */
export class FrameParser {
  #buffered: Buffer[] = [];
  #length = 0;
  readonly #maxPayload: number;

  constructor(maxPayload = MAX_FRAME_PAYLOAD) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.#length;
  }

  push(chunk: Buffer): RawFrame[] {
    if (chunk.length > 0) {
      this.#buffered.push(chunk);
      this.#length += chunk.length;
    }
    const out: RawFrame[] = [];
    if (this.#length < 8) return out;
    let buf = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered, this.#length);
    let off = 0;
    while (buf.length - off >= 8) {
      const word = buf.readUInt32BE(off);
      const flagsLength = buf.readUInt32BE(off + 4);
      const flags = flagsLength >>> 24;
      const length = flagsLength & 0xff_ffff;
      if (length > this.#maxPayload) throw new SpdyProtocolError(`frame of ${length} bytes exceeds the limit of ${this.#maxPayload}`);
      if (buf.length - off < 8 + length) break;
      const payload = buf.subarray(off + 8, off + 8 + length);
      if (word & 0x8000_0000) {
        const version = (word >>> 16) & 0x7fff;
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
        out.push(parseControl(word & 0xffff, flags, payload));
      } else {
        out.push({ kind: 'frame', frame: { type: 'data', streamId: word & 0x7fff_ffff, flags, data: Buffer.from(payload) } });
      }
      off += 8 + length;
    }
    buf = buf.subarray(off);
    this.#buffered = buf.length > 0 ? [buf] : [];
    this.#length = buf.length;
    return out;
  }
}
