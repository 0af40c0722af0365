import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeSignal, decodeChannelMessage, encodeChannelMessage, encodePortPrefix } from './ws-channels.ts';

describe('WebSocket channel framing', () => {
  test('binary: one channel byte, then the data', () => {
    const wire = encodeChannelMessage(1, Buffer.from('hello'), 'binary');
    assert.deepEqual(wire, Buffer.from([1, ...Buffer.from('hello')]));
    assert.deepEqual(decodeChannelMessage(wire, 'binary'), { channel: 1, data: Buffer.from('hello') });
  });

  test('base64: a digit, then base64 (the example of the Kubernetes sources: "foo\\n" on stdin)', () => {
    assert.equal(encodeChannelMessage(0, Buffer.from('foo\n'), 'base64'), '0Zm9vCg==');
    assert.deepEqual(decodeChannelMessage('1Cg==', 'base64'), { channel: 1, data: Buffer.from('\n') });
    assert.throws(() => decodeChannelMessage('0!!!', 'base64'), /base64/);
  });

  test('empty messages carry nothing', () => {
    assert.equal(decodeChannelMessage(Buffer.alloc(0), 'binary'), undefined);
    assert.equal(decodeChannelMessage('', 'base64'), undefined);
    // An empty payload on a channel is a message (the "connection established" notice).
    assert.deepEqual(decodeChannelMessage(Buffer.from([1]), 'binary'), { channel: 1, data: Buffer.alloc(0) });
  });

  test('v5 CLOSE signal and the port prefix of port-forward', () => {
    assert.deepEqual(decodeChannelMessage(closeSignal(0), 'binary'), { channel: 255, data: Buffer.from([0]) });
    assert.deepEqual(encodePortPrefix(8080), Buffer.from([0x90, 0x1f]));
  });
});
