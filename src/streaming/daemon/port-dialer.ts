// How the daemon reaches a port of a pod: directly for pods on the host network, through a relay
// inside the pod's network namespace otherwise. Node cannot enter a network namespace (setns is
// per thread, and Node has no call for it), so the relay is this same Node binary started with
// `nsenter --net=<the pod's netns file>` running netns-relay-main.ts: one relay per port-forward
// session, lazily started, carrying all of that session's connections (relay-protocol.ts), and
// gone when the session ends. Nothing is needed in the container image.

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { internal, unavailable } from '../../errors/errors.ts';
import { type ConnectionForwarder, joinStreams } from '../port-forward/forward.ts';
import { dialLoopback } from './netns-relay.ts';
import { encodeRelayFrame, RELAY_MAX_DATA, RELAY_WINDOW, RelayFrameParser, RelayOp, u16, u32 } from './relay-protocol.ts';

export interface PortDialer {
  /** A connection to `port` on the pod's loopback; rejects with a message fit for the client. */
  dial(port: number): Promise<Duplex>;
  /** Closes every connection and stops the relay. */
  close(): Promise<void>;
}

/** Pods on the host network: the daemon's own loopback. */
export class HostDialer implements PortDialer {
  readonly #open = new Set<Duplex>();

  async dial(port: number): Promise<Duplex> {
    const socket = await dialLoopback(port);
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    this.#open.clear();
  }
}

const RELAY_MAIN = path.join(import.meta.dirname, 'netns-relay-main.ts');
const NSENTER = '/usr/bin/nsenter';

export interface NetnsDialerOptions {
  /** The pod's network namespace file (a bind mount of /proc/<pid>/ns/net). */
  netns: string;
  /** The Node binary; default: the one running the daemon. */
  nodePath?: string;
}

/** Pods with a network namespace of their own: a relay inside it. */
export class NetnsDialer implements PortDialer {
  readonly #options: NetnsDialerOptions;
  #relay: RelayClient | undefined;
  #closed = false;

  constructor(options: NetnsDialerOptions) {
    this.#options = options;
  }

  async dial(port: number): Promise<Duplex> {
    if (this.#closed) throw unavailable('port-forward-closed', 'the port-forward session is closed');
    this.#relay ??= RelayClient.spawn(this.#options);
    return this.#relay.open(port);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#relay?.shutdown();
  }
}

/** The daemon's end of one relay process. */
export class RelayClient {
  readonly #child: ChildProcess | undefined;
  readonly #input: NodeJS.WritableStream;
  readonly #conns = new Map<number, RelayConnection>();
  readonly #opening = new Map<number, { resolve: (c: RelayConnection) => void; reject: (e: Error) => void; conn: RelayConnection }>();
  #nextId = 1;
  #dead: Error | undefined;
  #stderr = '';
  readonly #exited: Promise<void>;

  static spawn(options: NetnsDialerOptions): RelayClient {
    const child = spawn(
      NSENTER,
      [`--net=${options.netns}`, '--', options.nodePath ?? process.execPath, '--disable-warning=ExperimentalWarning', RELAY_MAIN],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    return new RelayClient(child.stdin!, child.stdout!, child);
  }

  /** Over any pair of streams (tests run the relay in-process). */
  constructor(input: NodeJS.WritableStream, output: NodeJS.ReadableStream, child?: ChildProcess) {
    this.#child = child;
    this.#input = input;
    input.on('error', () => {});
    const parser = new RelayFrameParser();
    output.on('data', (chunk: Buffer) => {
      let frames: ReturnType<RelayFrameParser['push']>;
      try {
        frames = parser.push(chunk);
      } catch (e) {
        this.#fail(e as Error);
        return;
      }
      for (const f of frames) this.#onFrame(f.op, f.id, f.payload);
    });
    child?.stderr?.on('data', (d: Buffer) => {
      if (this.#stderr.length < 4096) this.#stderr += d.toString('utf8');
    });
    this.#exited = new Promise<void>((resolve) => {
      if (!child) {
        output.on('end', () => resolve());
        return;
      }
      child.once('error', (e) => {
        this.#fail(internal('port-forward-relay-failed', `cannot start the port-forward relay: ${e.message}`, { cause: e }));
        resolve();
      });
      child.once('exit', (code, sig) => {
        const said = this.#stderr.trim();
        this.#fail(internal('port-forward-relay-failed', `the port-forward relay exited (${code ?? sig})${said ? `: ${said}` : ''}`));
        resolve();
      });
    });
    output.on('end', () => this.#fail(internal('port-forward-relay-failed', 'the port-forward relay closed its output')));
  }

  open(port: number): Promise<Duplex> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    const conn = new RelayConnection(this, id);
    return new Promise((resolve, reject) => {
      this.#opening.set(id, { resolve, reject, conn });
      this._send(RelayOp.OPEN, id, u16(port));
    });
  }

  async shutdown(): Promise<void> {
    for (const c of this.#conns.values()) c.destroy();
    this.#input.end();
    this.#fail(unavailable('port-forward-closed', 'the port-forward session is closed'));
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) {
      const timer = setTimeout(() => this.#child?.kill('SIGKILL'), 2000);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  /** @internal */
  _send(op: (typeof RelayOp)[keyof typeof RelayOp], id: number, payload?: Buffer, cb?: () => void): void {
    if (this.#dead) {
      cb?.();
      return;
    }
    const ok = this.#input.write(encodeRelayFrame(op, id, payload));
    if (!cb) return;
    if (ok) cb();
    else this.#input.once('drain', cb);
  }

  /** @internal */
  _forget(id: number): void {
    this.#conns.delete(id);
  }

  #onFrame(op: number, id: number, payload: Buffer): void {
    if (op === RelayOp.OPENED) {
      const o = this.#opening.get(id);
      if (!o) return;
      this.#opening.delete(id);
      this.#conns.set(id, o.conn);
      o.resolve(o.conn);
      return;
    }
    if (op === RelayOp.CLOSE && this.#opening.has(id)) {
      const o = this.#opening.get(id)!;
      this.#opening.delete(id);
      o.reject(unavailable('port-connect-failed', payload.length > 0 ? payload.toString('utf8') : 'the connection was closed'));
      return;
    }
    const conn = this.#conns.get(id);
    if (!conn) return;
    switch (op) {
      case RelayOp.DATA:
        conn._onData(payload);
        return;
      case RelayOp.END:
        conn._onEnd();
        return;
      case RelayOp.CLOSE:
        this.#conns.delete(id);
        conn._onClose(payload.length > 0 ? payload.toString('utf8') : undefined);
        return;
      case RelayOp.ACK:
        conn._onAck(payload.readUInt32BE(0));
        return;
    }
  }

  #fail(error: Error): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const o of this.#opening.values()) o.reject(error);
    this.#opening.clear();
    for (const c of this.#conns.values()) c._onClose(error.message);
    this.#conns.clear();
  }
}

/** One TCP connection inside the pod, as a Duplex in the daemon. */
class RelayConnection extends Duplex {
  readonly #relay: RelayClient;
  readonly #id: number;
  #unacked = 0;
  #pendingAck = 0;
  #waitingCredit: (() => void) | undefined;
  #remoteClosed = false;

  constructor(relay: RelayClient, id: number) {
    super({ allowHalfOpen: true });
    this.#relay = relay;
    this.#id = id;
    this.on('error', () => {});
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let off = 0;
    const step = (): void => {
      if (this.#remoteClosed) {
        cb(unavailable('port-forward-closed', 'the connection is closed'));
        return;
      }
      while (off < chunk.length) {
        if (this.#unacked >= RELAY_WINDOW) {
          this.#waitingCredit = step;
          return;
        }
        const piece = chunk.subarray(off, off + RELAY_MAX_DATA);
        off += piece.length;
        this.#unacked += piece.length;
        if (off >= chunk.length) {
          this.#relay._send(RelayOp.DATA, this.#id, piece, () => cb());
          return;
        }
        this.#relay._send(RelayOp.DATA, this.#id, piece);
      }
      cb();
    };
    step();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.#remoteClosed) this.#relay._send(RelayOp.END, this.#id);
    cb();
  }

  override _read(): void {
    if (this.#pendingAck > 0 && !this.#remoteClosed) {
      this.#relay._send(RelayOp.ACK, this.#id, u32(this.#pendingAck));
      this.#pendingAck = 0;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.#remoteClosed) {
      this.#remoteClosed = true;
      this.#relay._send(RelayOp.CLOSE, this.#id);
      this.#relay._forget(this.#id);
    }
    const w = this.#waitingCredit;
    this.#waitingCredit = undefined;
    w?.();
    cb(err);
  }

  _onData(data: Buffer): void {
    if (this.destroyed) return;
    if (this.push(data)) this.#relay._send(RelayOp.ACK, this.#id, u32(data.length));
    else this.#pendingAck += data.length;
  }

  _onEnd(): void {
    if (!this.destroyed) this.push(null);
  }

  _onAck(n: number): void {
    this.#unacked -= n;
    if (this.#unacked < RELAY_WINDOW) {
      const w = this.#waitingCredit;
      this.#waitingCredit = undefined;
      w?.();
    }
  }

  _onClose(message: string | undefined): void {
    this.#remoteClosed = true;
    if (this.destroyed) return;
    if (message) {
      this.destroy(unavailable('port-connect-failed', message));
      return;
    }
    if (!this.readableEnded) this.push(null);
    if (this.readableLength === 0) this.destroy();
    else this.once('end', () => this.destroy());
  }
}

export function forwardError(port: number, podSandboxId: string, error: Error): string {
  return `error forwarding port ${port} to pod ${podSandboxId}, uid : ${error.message}`;
}

/** The runtime's forwarder: a connection from `dialer`, joined to the client's stream. */
export function dialerForwarder(dialer: PortDialer, podSandboxId: string): ConnectionForwarder {
  return async (port, client, signal) => {
    let conn: Duplex;
    try {
      conn = await dialer.dial(port);
    } catch (e) {
      throw unavailable('port-connect-failed', forwardError(port, podSandboxId, e as Error), { cause: e });
    }
    await joinStreams(client, conn, signal);
  };
}
