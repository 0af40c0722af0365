// The relay's side of relay-protocol.ts: it runs inside the pod's network namespace (started by
// `nsenter --net=<pod netns>`; see netns-relay-main.ts), opens TCP connections to ports on the
// pod's loopback and moves bytes between them and the daemon.

import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { unavailable } from '../../errors/errors.ts';
import { encodeRelayFrame, RELAY_MAX_DATA, RELAY_WINDOW, RelayFrameParser, RelayOp, u32 } from './relay-protocol.ts';

interface Conn {
  socket: net.Socket;
  /** Bytes sent to the daemon and not acknowledged yet. */
  unacked: number;
  paused: boolean;
  closed: boolean;
}

/** Runs the relay until `input` ends; resolves once every connection is closed. */
export function runRelay(input: Readable, output: Writable, dial: (port: number) => Promise<net.Socket> = dialLoopback): Promise<void> {
  const conns = new Map<number, Conn>();
  const parser = new RelayFrameParser();
  const send = (op: (typeof RelayOp)[keyof typeof RelayOp], id: number, payload?: Buffer): void => {
    output.write(encodeRelayFrame(op, id, payload));
  };
  const close = (id: number, message?: string): void => {
    const c = conns.get(id);
    if (c?.closed) return;
    if (c) c.closed = true;
    conns.delete(id);
    send(RelayOp.CLOSE, id, message ? Buffer.from(message) : undefined);
  };

  const open = (id: number, port: number): void => {
    dial(port).then(
      (socket) => {
        const c: Conn = { socket, unacked: 0, paused: false, closed: false };
        conns.set(id, c);
        send(RelayOp.OPENED, id);
        socket.on('data', (data: Buffer) => {
          for (let off = 0; off < data.length; off += RELAY_MAX_DATA) {
            const piece = data.subarray(off, off + RELAY_MAX_DATA);
            c.unacked += piece.length;
            send(RelayOp.DATA, id, piece);
          }
          if (c.unacked >= RELAY_WINDOW && !c.paused) {
            c.paused = true;
            socket.pause();
          }
        });
        socket.on('end', () => {
          if (!c.closed) send(RelayOp.END, id);
        });
        socket.on('error', () => {});
        socket.on('close', (hadError) => close(id, hadError ? 'the connection was reset' : undefined));
      },
      (e: Error) => close(id, e.message),
    );
  };

  const onFrame = (op: number, id: number, payload: Buffer): void => {
    if (op === RelayOp.OPEN) {
      open(id, payload.readUInt16BE(0));
      return;
    }
    const c = conns.get(id);
    if (!c) return;
    switch (op) {
      case RelayOp.DATA: {
        const n = payload.length;
        c.socket.write(payload, () => send(RelayOp.ACK, id, u32(n)));
        return;
      }
      case RelayOp.END:
        c.socket.end();
        return;
      case RelayOp.CLOSE:
        c.closed = true;
        conns.delete(id);
        c.socket.destroy();
        return;
      case RelayOp.ACK:
        c.unacked -= payload.readUInt32BE(0);
        if (c.paused && c.unacked < RELAY_WINDOW) {
          c.paused = false;
          c.socket.resume();
        }
        return;
    }
  };

  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer) => {
      let frames: ReturnType<RelayFrameParser['push']>;
      try {
        frames = parser.push(chunk);
      } catch {
        input.destroy();
        return;
      }
      for (const f of frames) onFrame(f.op, f.id, f.payload);
    });
    const stop = (): void => {
      for (const c of conns.values()) {
        c.closed = true;
        c.socket.destroy();
      }
      conns.clear();
      if (!output.writableEnded) output.end();
      resolve();
    };
    input.once('end', stop);
    input.once('close', stop);
    output.on('error', stop);
  });
}

/** Opens a TCP connection to `port` on the loopback, IPv4 first, then IPv6. */
export function dialLoopback(port: number): Promise<net.Socket> {
  const attempt = (host: string): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, allowHalfOpen: true });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', reject);
    });
  return attempt('127.0.0.1').catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNREFUSED' && e.code !== 'EADDRNOTAVAIL' && e.code !== 'ENETUNREACH') throw describe(port, e);
    return attempt('::1').catch(() => {
      throw describe(port, e);
    });
  });
}

function describe(port: number, e: Error): Error {
  return unavailable('port-connect-failed', `failed to connect to localhost:${port}: ${e.message}`, { cause: e });
}
