import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import {
  decodeHeaderBlock,
  encodeControlFrame,
  encodeDataFrame,
  encodeHeaderBlock,
  FLAG_FIN,
  FrameParser,
  type RawFrame,
  type SpdyFrame,
  SpdyProtocolError,
} from './spdy-frames.ts';
import { HeaderCodec, SPDY3_DICTIONARY } from './spdy-header-codec.ts';

function only(raw: RawFrame[]): SpdyFrame {
  assert.equal(raw.length, 1);
  const r = raw[0]!;
  assert.equal(r.kind, 'frame');
  return (r as { frame: SpdyFrame }).frame;
}

describe('SPDY/3 header dictionary', () => {
  test('is byte for byte the one of the specification', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(
      createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'),
      '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
    );
  });
});

describe('header blocks', () => {
  test('round-trip names (lower-cased) and multiple values', () => {
    const block = encodeHeaderBlock({ streamType: ['stdout'], port: ['80'], multi: ['a', 'b'] });
    assert.deepEqual(decodeHeaderBlock(block), { streamtype: ['stdout'], port: ['80'], multi: ['a', 'b'] });
  });

  test('the layout is a count, then length-prefixed names and values', () => {
    const block = encodeHeaderBlock({ a: ['bc'] });
    assert.equal(block.toString('hex'), '00000001' + '00000001' + '61' + '00000002' + '6263');
  });

  test('truncated and duplicate entries are protocol errors', () => {
    const block = encodeHeaderBlock({ a: ['bc'] });
    assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), SpdyProtocolError);
    const dup = Buffer.concat([Buffer.from('00000002', 'hex'), block.subarray(4), block.subarray(4)]);
    assert.throws(() => decodeHeaderBlock(dup), /duplicate/);
  });
});

describe('frames', () => {
  test('DATA frames carry the stream ID, FIN and the payload', () => {
    const wire = encodeDataFrame(5, Buffer.from('hello'), true);
    assert.equal(wire.toString('hex'), '00000005' + '01000005' + Buffer.from('hello').toString('hex'));
    const f = only(new FrameParser().push(wire));
    assert.deepEqual(f, { type: 'data', streamId: 5, flags: FLAG_FIN, data: Buffer.from('hello') });
  });

  test('control frames round-trip', () => {
    const frames: SpdyFrame[] = [
      { type: 'rst_stream', streamId: 7, status: 5 },
      { type: 'settings', flags: 0, entries: [{ id: 7, flags: 0, value: 1 << 20 }] },
      { type: 'ping', id: 3 },
      { type: 'goaway', lastGoodStreamId: 9, status: 0 },
      { type: 'window_update', streamId: 0, delta: 12345 },
    ];
    const parser = new FrameParser();
    for (const frame of frames) {
      const wire = encodeControlFrame(frame as Parameters<typeof encodeControlFrame>[0]);
      assert.equal(wire.readUInt16BE(0), 0x8003, 'control bit and version 3');
      assert.deepEqual(only(parser.push(wire)), frame);
    }
  });

  test('a PING is 12 bytes as the specification lays it out', () => {
    assert.equal(encodeControlFrame({ type: 'ping', id: 1 }).toString('hex'), '80030006' + '00000004' + '00000001');
  });

  test('the parser waits for whole frames across chunks', () => {
    const wire = Buffer.concat([encodeDataFrame(1, Buffer.from('abc'), false), encodeControlFrame({ type: 'ping', id: 2 })]);
    const parser = new FrameParser();
    const seen: SpdyFrame[] = [];
    for (let i = 0; i < wire.length; i++) {
      for (const r of parser.push(wire.subarray(i, i + 1))) if (r.kind === 'frame') seen.push(r.frame);
    }
    assert.deepEqual(
      seen.map((f) => f.type),
      ['data', 'ping'],
    );
    assert.equal(parser.pending, 0);
  });

  test('a wrong version or an oversized frame is refused', () => {
    const bad = encodeControlFrame({ type: 'ping', id: 1 });
    bad.writeUInt16BE(0x8002, 0);
    assert.throws(() => new FrameParser().push(bad), /version 2/);
    const big = encodeDataFrame(1, Buffer.alloc(100), false);
    assert.throws(() => new FrameParser(50).push(big), /exceeds/);
  });

  test('unknown control frames are skipped, not fatal', () => {
    const wire = Buffer.from('8003000a' + '00000000', 'hex');
    assert.deepEqual(only(new FrameParser().push(wire)), { type: 'unknown', controlType: 10, flags: 0 });
  });
});

describe('header compression', () => {
  test('SYN_STREAM headers survive compression, framing and decompression, block after block', async () => {
    const tx = new HeaderCodec();
    const rx = new HeaderCodec();
    try {
      const parser = new FrameParser();
      for (let i = 1; i <= 5; i += 2) {
        const headers = { streamtype: ['stdout'], port: [String(8000 + i)], requestid: [String(i)] };
        const block = await tx.compress(headers);
        const wire = encodeControlFrame({ type: 'syn_stream', streamId: i, associatedTo: 0, priority: 0, flags: 0, headers }, block);
        const [raw] = parser.push(wire);
        assert.equal(raw?.kind, 'headers');
        if (raw?.kind !== 'headers') return;
        const frame = raw.withHeaders(await rx.decompress(raw.compressed, raw.streamId));
        assert.deepEqual(frame, { type: 'syn_stream', streamId: i, associatedTo: 0, priority: 0, flags: 0, headers });
      }
    } finally {
      tx.close();
      rx.close();
    }
  });

  test('the first block is a zlib stream primed with the dictionary; later blocks use the shared context', async () => {
    const tx = new HeaderCodec();
    try {
      const first = await tx.compress({ a: ['1'] });
      // FDICT set in the zlib header, and the block ends in a sync flush marker.
      assert.equal(first[1]! & 0x20, 0x20);
      assert.equal(first.subarray(-4).toString('hex'), '0000ffff');
      assert.deepEqual(decodeHeaderBlock(inflateSync(first, { dictionary: SPDY3_DICTIONARY, finishFlush: 2 })), { a: ['1'] });
      const second = await tx.compress({ a: ['1'] });
      assert.ok(second.length < first.length, 'the repeated block compresses against the first');
    } finally {
      tx.close();
    }
  });

  test('garbage is a protocol error', async () => {
    const rx = new HeaderCodec();
    try {
      await assert.rejects(rx.decompress(Buffer.from('not zlib at all')), SpdyProtocolError);
    } finally {
      rx.close();
    }
  });
});
