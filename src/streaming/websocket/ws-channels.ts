// The channel framing of the Kubernetes WebSocket subprotocols: every message starts with its
// channel number, one byte (`channel.k8s.io` and its v4/v5 forms) or one ASCII digit followed by
// base64 text (`base64.channel.k8s.io`, `v4.base64.channel.k8s.io`). v5 adds a CLOSE signal: a
// message on channel 255 whose one byte names the channel the sender closes.

import { invalidArgument } from '../../errors/errors.ts';

export type ChannelCodec = 'binary' | 'base64';

/** v5.channel.k8s.io's CLOSE signal channel. */
export const CLOSE_SIGNAL_CHANNEL = 255;

export interface ChannelMessage {
  channel: number;
  data: Buffer;
}

export function encodeChannelMessage(channel: number, data: Buffer, codec: ChannelCodec): Buffer | string {
  if (codec === 'base64') return String.fromCharCode(48 + channel) + data.toString('base64');
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  data.copy(out, 1);
  return out;
}

/** The channel and payload of a message; undefined for an empty message (the protocols ignore those). */
export function decodeChannelMessage(message: Buffer | string, codec: ChannelCodec): ChannelMessage | undefined {
  if (codec === 'base64') {
    const text = typeof message === 'string' ? message : message.toString('latin1');
    if (text.length === 0) return undefined;
    const channel = text.charCodeAt(0) - 48;
    if (channel < 0 || channel > 9) {
      throw invalidArgument('ws-bad-channel', `base64 channel message with a bad channel character ${JSON.stringify(text[0])}`);
    }
    const body = text.slice(1);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw invalidArgument('ws-bad-base64', 'base64 channel message is not valid base64');
    return { channel, data: Buffer.from(body, 'base64') };
  }
  const buf = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  if (buf.length === 0) return undefined;
  return { channel: buf[0]!, data: buf.subarray(1) };
}

/** The CLOSE signal of v5 for `channel`. */
export function closeSignal(channel: number): Buffer {
  return Buffer.from([CLOSE_SIGNAL_CHANNEL, channel]);
}

/** A port as the WebSocket port-forward protocol announces it on each channel: uint16, little-endian. */
export function encodePortPrefix(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port);
  return b;
}
