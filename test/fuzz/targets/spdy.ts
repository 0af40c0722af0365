// The SPDY/3.1 frame parser and header decompression over what a client may send, in the
// order a session reads it: frames cut from the byte stream, header blocks inflated in order.
import {
  decodeHeaderBlock,
  encodeControlFrame,
  encodeDataFrame,
  encodeHeaderBlock,
  FLAG_FIN,
  FrameParser,
  SpdyProtocolError,
} from '../../../src/streaming/spdy/spdy-frames.ts';
import { HeaderCodec } from '../../../src/streaming/spdy/spdy-header-codec.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';

const MAX_PAYLOAD = 1024 * 1024;

async function seeds(): Promise<Buffer[]> {
  const codec = new HeaderCodec();
  try {
    const exec = await codec.compress({ streamtype: ['error'], ':path': ['/exec/abc'], 'x-many': ['a', 'b'] });
    const stdin = await codec.compress({ streamtype: ['stdin'] });
    const session = Buffer.concat([
      encodeControlFrame({ type: 'settings', flags: 0, entries: [{ id: 7, flags: 0, value: 65536 }] }),
      encodeControlFrame({ type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 0, flags: 0, headers: {} }, exec),
      encodeControlFrame({ type: 'syn_stream', streamId: 3, associatedTo: 0, priority: 0, flags: 0, headers: {} }, stdin),
      encodeDataFrame(3, Buffer.from('echo hi\n'), false),
      encodeControlFrame({ type: 'window_update', streamId: 1, delta: 1024 }),
      encodeControlFrame({ type: 'ping', id: 1 }),
      encodeDataFrame(3, Buffer.alloc(0), true),
      encodeControlFrame({ type: 'rst_stream', streamId: 1, status: 5 }),
      encodeControlFrame({ type: 'goaway', lastGoodStreamId: 3, status: 0 }),
    ]);
    return [session, encodeHeaderBlock({ a: ['b'], '': [''] }), encodeDataFrame(1, Buffer.from('x'), true)];
  } finally {
    codec.close();
  }
}

async function readSession(input: Buffer, chunk: number): Promise<void> {
  const parser = new FrameParser(MAX_PAYLOAD);
  const codec = new HeaderCodec();
  try {
    for (let i = 0; i < input.length; i += chunk) {
      for (const raw of parser.push(input.subarray(i, i + chunk))) {
        if (raw.kind === 'frame') {
          if (raw.frame.type === 'data') invariant(raw.frame.data.length <= MAX_PAYLOAD, 'data frame over the limit');
          continue;
        }
        const headers = await codec.decompress(raw.compressed, raw.streamId);
        const frame = raw.withHeaders(headers);
        for (const [name, values] of Object.entries(frame.headers)) {
          invariant(Array.isArray(values) && values.every((v) => typeof v === 'string'), `header ${name} is not a list of strings`);
        }
      }
    }
    invariant(parser.pending <= MAX_PAYLOAD + 8, `the parser holds ${parser.pending} bytes`);
  } finally {
    codec.close();
  }
}

export const spdyTarget: FuzzTarget = {
  name: 'spdy-frames',
  cover: ['/src/streaming/spdy/'],
  maxLength: 8 * 1024,
  dictionary: words(
    '\x80\x03\x00\x01',
    '\x80\x03\x00\x02',
    '\x80\x03\x00\x04',
    '\x80\x03\x00\x06',
    '\x80\x03\x00\x09',
    '\x78\xbb',
    '\x78\x9c',
    'streamtype',
    String.fromCharCode(FLAG_FIN),
  ),
  seeds,
  async run(input) {
    await refusalOrResult(() => readSession(input, input.length || 1), SpdyProtocolError);
    await refusalOrResult(() => readSession(input, 13), SpdyProtocolError);
    await refusalOrResult(() => decodeHeaderBlock(input), SpdyProtocolError);
  },
};
