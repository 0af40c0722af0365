import { internal } from '../../errors/errors.ts';
// The framing between the daemon and the port-forward relay that runs inside a pod's network
// namespace: many TCP connections over the relay's stdin/stdout. A frame is
//
//   op (1 byte) | connection id (u32) | payload length (u32) | payload
//
// daemon → relay: OPEN (payload: port, u16), DATA, END (half-close), CLOSE (abort), ACK (u32 bytes)
// relay → daemon: OPENED, DATA, END (the peer half-closed), CLOSE (payload: why, when it failed), ACK
//
// Each side sends at most RELAY_WINDOW unacknowledged bytes per connection and acknowledges what
// it has handed on, so a slow connection never holds up the others on the shared pipe.

export const RelayOp = { OPEN: 1, DATA: 2, END: 3, CLOSE: 4, ACK: 5, OPENED: 6 } as const;
export type RelayOpCode = (typeof RelayOp)[keyof typeof RelayOp];

export const RELAY_WINDOW = 256 * 1024;
/** The largest DATA payload either side writes. */
export const RELAY_MAX_DATA = 64 * 1024;

export interface RelayFrame {
  op: number;
  id: number;
  payload: Buffer;
}

export function encodeRelayFrame(op: RelayOpCode, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.allocUnsafe(9);
  head.writeUInt8(op, 0);
  head.writeUInt32BE(id >>> 0, 1);
  head.writeUInt32BE(payload.length, 5);
  return payload.length === 0 ? head : Buffer.concat([head, payload]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export class RelayFrameParser {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RelayFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: RelayFrame[] = [];
    let off = 0;
    while (this.#buf.length - off >= 9) {
      const len = this.#buf.readUInt32BE(off + 5);
      if (len > 16 * 1024 * 1024) throw internal('relay-frame-too-large', `relay frame of ${len} bytes`);
      if (this.#buf.length - off < 9 + len) break;
      out.push({
        op: this.#buf.readUInt8(off),
        id: this.#buf.readUInt32BE(off + 1),
        payload: Buffer.from(this.#buf.subarray(off + 9, off + 9 + len)),
      });
      off += 9 + len;
    }
    this.#buf = this.#buf.subarray(off);
    return out;
  }
}
