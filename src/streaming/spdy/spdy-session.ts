// A SPDY/3.1 session over one byte stream (an upgraded HTTP connection), as moby/spdystream
// speaks it for the Kubernetes streaming protocols: streams opened with SYN_STREAM and accepted
// with SYN_REPLY, data in DATA frames, half-close with FIN, abort with RST_STREAM, PING, GOAWAY.
//
// Each SpdyStream is a Node Duplex: what the peer sends is readable, what is written goes out in
// DATA frames, end() sends FIN. Backpressure: with a peer that does flow control, each stream's
// window (credited as its reader consumes); with one that does not (spdystream), a stream whose
// reader falls behind pauses the whole connection, as spdystream's blocking frame handler does.
// Writers wait for the socket to drain. Flow control is spdy-flow-control.ts's; the streams are
// spdy-stream.ts's.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { deadlineExceeded, resourceExhausted, unavailable } from '../../errors/errors.ts';
import { FlowControl } from './spdy-flow-control.ts';
import {
  DEFAULT_WINDOW,
  encodeControlFrame,
  encodeDataFrame,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  GoAwayStatus,
  type HeaderFrame,
  type RawFrame,
  RstStatus,
  SettingsId,
  type SpdyFrame,
  type SpdyHeaders,
} from './spdy-frames.ts';
import { HeaderCodec } from './spdy-header-codec.ts';
import { type PeerSide, SpdyStream, type StreamTransport } from './spdy-stream.ts';

/** How long close() waits for streams that were ended to flush their FIN. */
const CLOSE_FLUSH_MS = 2000;

export interface SpdySessionOptions {
  /** The client opens odd-numbered streams, the server even-numbered ones. */
  role: 'client' | 'server';
  /** Close the session when no frame went either way for this long; 0 or undefined: never. */
  idleTimeoutMs?: number;
  /** Streams the peer may have open at once; more are refused. Default 1000. */
  maxConcurrentStreams?: number;
  /** The receive window this side announces for each stream. Default 64 KiB (the protocol's own). */
  receiveWindow?: number;
  /**
   * Bytes written to the socket but not yet taken by the peer above which the session stops
   * reading (a peer that sends PINGs and never reads the answers). Default 1 MiB. The session is
   * ended with GOAWAY when the backlog still grows to 8 times this.
   */
  maxBufferedBytes?: number;
}

export interface SpdySessionEvents {
  stream: [stream: SpdyStream];
  goaway: [status: number];
  timeout: [];
  close: [error?: Error];
}

type OutItem = { data: Buffer | Promise<Buffer>; cb?: (err?: Error | null) => void };

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  readonly role: 'client' | 'server';
  readonly #socket: Duplex;
  readonly #codec = new HeaderCodec();
  readonly #parser = new FrameParser();
  readonly #streams = new Map<number, PeerSide>();
  readonly #maxConcurrent: number;
  readonly #receiveWindow: number;
  readonly #maxBuffered: number;
  #outBlocked = false;
  #nextStreamId: number;
  #lastPeerStreamId = 0;
  #nextPingId: number;
  readonly #pings = new Map<number, { sent: number; resolve: (ms: number) => void; reject: (e: Error) => void }>();

  #in: (RawFrame | 'eof' | { closed: Error | undefined })[] = [];
  #processing = false;
  #out: OutItem[] = [];
  #draining = false;
  #drainWaiters: ((err?: Error | null) => void)[] = [];

  #idleTimeoutMs: number;
  #idleTimer: NodeJS.Timeout | undefined;
  #pausedBy = new Set<number>();

  readonly #flow: FlowControl;

  #goneAwayLocal = false;
  #goneAwayRemote = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(socket: Duplex, options: SpdySessionOptions) {
    super();
    this.role = options.role;
    this.#socket = socket;
    this.#nextStreamId = options.role === 'client' ? 1 : 2;
    this.#nextPingId = options.role === 'client' ? 1 : 2;
    this.#maxConcurrent = options.maxConcurrentStreams ?? 1000;
    this.#receiveWindow = options.receiveWindow ?? DEFAULT_WINDOW;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#flow = new FlowControl({
      receiveWindow: this.#receiveWindow,
      sendWindowUpdate: (streamId, delta) => this.#send(encodeControlFrame({ type: 'window_update', streamId, delta })),
    });
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    socket.on('data', (chunk: Buffer) => this.#onSocketData(chunk));
    socket.on('end', () => this.#enqueueIn('eof'));
    // Frames already read are handled before the session ends (header blocks decompress asynchronously).
    socket.on('error', (e) => this.#enqueueIn({ closed: e }));
    socket.on('close', () => this.#enqueueIn({ closed: undefined }));
    socket.on('drain', () => this.#onDrain());
    this.#touch();
    // Announce the stream window, the default too: a peer that does flow control learns at once
    // that this side does (before any stream opens). spdystream ignores SETTINGS.
    this.#send(
      encodeControlFrame({
        type: 'settings',
        flags: 0,
        entries: [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: this.#receiveWindow }],
      }),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes written to the socket that the peer has not taken yet. */
  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Streams currently open (in either direction). */
  get streamCount(): number {
    return this.#streams.size;
  }

  setIdleTimeout(ms: number): void {
    this.#idleTimeoutMs = ms;
    this.#touch();
  }

  /** Opens a stream; the SYN_STREAM goes out at once. `stream.replied` settles on the peer's SYN_REPLY or RST_STREAM. */
  openStream(headers: SpdyHeaders, options: { fin?: boolean } = {}): SpdyStream {
    if (this.#closed || this.#goneAwayLocal || this.#goneAwayRemote)
      throw unavailable('spdy-session-closed', 'the SPDY session is closing');
    const id = this.#nextStreamId;
    if (id > 0x7fff_ffff) throw resourceExhausted('spdy-stream-ids-exhausted', 'SPDY stream IDs exhausted');
    this.#nextStreamId += 2;
    const peer = this.#addStream(id, headers, true);
    this.#sendHeaders({ type: 'syn_stream', streamId: id, associatedTo: 0, priority: 0, flags: options.fin ? FLAG_FIN : 0, headers });
    if (options.fin) peer.markLocalFin();
    return peer.stream;
  }

  /** Round-trip time of a PING, in milliseconds. */
  ping(timeoutMs = 10_000): Promise<number> {
    const id = this.#nextPingId;
    this.#nextPingId += 2;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        reject(deadlineExceeded('spdy-ping-timeout', 'SPDY ping timed out'));
      }, timeoutMs);
      this.#pings.set(id, {
        sent: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#send(encodeControlFrame({ type: 'ping', id }));
    });
  }

  /**
   * Ends the session the way the kubelet does: streams that were ended get their FIN out, every
   * stream still open is reset, GOAWAY is sent, and the connection is closed once written.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#closed) return;
      const ending = [...this.#streams.values()].map((p) => p.stream).filter((s) => s.writableEnded && !s.writableFinished);
      if (ending.length > 0) {
        await Promise.race([
          Promise.all(
            ending.map(
              (s) =>
                new Promise<void>((resolve) =>
                  s.writableFinished || s.destroyed ? resolve() : s.once('close', resolve).once('finish', resolve),
                ),
            ),
          ),
          new Promise((resolve) => setTimeout(resolve, CLOSE_FLUSH_MS).unref()),
        ]);
      }
      for (const peer of [...this.#streams.values()]) {
        if (!(peer.localFinished && peer.remoteFinished)) peer.stream.reset(RstStatus.CANCEL);
      }
      this.#goAway(GoAwayStatus.OK);
      await new Promise<void>((resolve) => this.#send(Buffer.alloc(0), () => resolve()));
      this.#socket.end();
      // A peer that never closes its side must not keep the socket.
      setTimeout(() => this.#socket.destroy(), CLOSE_FLUSH_MS).unref();
    })();
    return this.#closing;
  }

  /** Tears the connection down at once: every stream is destroyed. */
  destroy(error?: Error): void {
    this.#terminate(error);
    this.#socket.destroy();
  }

  // ------------------------------------------------------------ outbound

  #touch(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#idleTimeoutMs > 0 && !this.#closed) {
      this.#idleTimer = setTimeout(() => {
        this.emit('timeout');
        this.destroy(deadlineExceeded('spdy-session-idle', `SPDY session idle for ${this.#idleTimeoutMs} ms`));
      }, this.#idleTimeoutMs);
      this.#idleTimer.unref();
    }
  }

  #send(data: Buffer | Promise<Buffer>, cb?: (err?: Error | null) => void): void {
    if (this.#closed) {
      if (data instanceof Promise) data.catch(() => {});
      cb?.(unavailable('spdy-session-closed', 'the SPDY session is closed'));
      return;
    }
    this.#out.push({ data, cb });
    if (!this.#draining) void this.#drainOut();
  }

  async #drainOut(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#out.length > 0) {
        const item = this.#out[0]!;
        let buf: Buffer;
        if (item.data instanceof Promise) {
          try {
            buf = await item.data;
          } catch (e) {
            this.destroy(e as Error);
            return;
          }
        } else {
          buf = item.data;
        }
        this.#out.shift();
        if (this.#closed) {
          item.cb?.(unavailable('spdy-session-closed', 'the SPDY session is closed'));
          continue;
        }
        let ok = true;
        if (buf.length > 0) {
          this.#touch();
          ok = this.#socket.write(buf);
          this.#checkBacklog();
        }
        if (item.cb) {
          if (ok) item.cb();
          else this.#drainWaiters.push(item.cb);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** A peer that does not read what it asks for is not read from; one that floods anyway is cut off. */
  #checkBacklog(): void {
    const backlog = this.#socket.writableLength;
    if (backlog > this.#maxBuffered * 8) {
      this.destroy(resourceExhausted('spdy-session-flooded', `the SPDY peer does not read: ${backlog} bytes wait for it`));
      return;
    }
    if (backlog > this.#maxBuffered && !this.#outBlocked) {
      this.#outBlocked = true;
      this.#socket.pause();
    }
  }

  #onDrain(): void {
    if (this.#outBlocked) {
      this.#outBlocked = false;
      if (this.#pausedBy.size === 0 && !this.#closed) this.#socket.resume();
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const cb of waiters) cb();
  }

  #sendHeaders(frame: HeaderFrame, cb?: (err?: Error | null) => void): void {
    const wire = this.#codec.compress(frame.headers).then((block) => encodeControlFrame(frame, block));
    this.#send(wire, cb);
  }

  #goAway(status: number): void {
    if (this.#goneAwayLocal) return;
    this.#goneAwayLocal = true;
    this.#send(encodeControlFrame({ type: 'goaway', lastGoodStreamId: this.#lastPeerStreamId, status }));
  }

  /** A stream in the session's map, with the transport bound to its ID. */
  #addStream(id: number, headers: SpdyHeaders, initiatedLocally: boolean): PeerSide {
    const session = this;
    const transport: StreamTransport = {
      get closed() {
        return session.#closed;
      },
      sendReply: (replyHeaders, fin) =>
        this.#sendHeaders({ type: 'syn_reply', streamId: id, flags: fin ? FLAG_FIN : 0, headers: replyHeaders }),
      sendRst: (status) => this.#sendRst(id, status),
      sendData: (data, fin, cb) => this.#send(encodeDataFrame(id, data, fin), cb),
      takeRoom: (wanted) => this.#flow.take(id, wanted),
      waitForRoom: (retry) => this.#flow.waitForRoom(retry),
      consumed: (bytes, peerMaySend) => {
        if (!this.#closed) this.#flow.consumed(id, bytes, peerMaySend);
      },
      get flowControlled() {
        return session.#flow.controlled(id);
      },
      pause: () => {
        this.#pausedBy.add(id);
        this.#socket.pause();
      },
      resume: () => this.#resumeFor(id),
      done: () => this.#forget(peer),
    };
    const peer = SpdyStream.open(transport, id, headers, initiatedLocally);
    this.#streams.set(id, peer);
    this.#flow.addStream(id);
    return peer;
  }

  #sendRst(streamId: number, status: number): void {
    this.#send(encodeControlFrame({ type: 'rst_stream', streamId, status }));
  }

  #resumeFor(id: number): void {
    if (!this.#pausedBy.delete(id)) return;
    if (this.#pausedBy.size === 0 && !this.#outBlocked && !this.#closed) this.#socket.resume();
  }

  /** The stream is done in both directions (or reset): forget it. */
  #forget(peer: PeerSide): void {
    const id = peer.stream.id;
    if (this.#streams.get(id) === peer) {
      this.#streams.delete(id);
      this.#flow.removeStream(id);
    }
    this.#resumeFor(id);
    if (this.#goneAwayRemote && this.#streams.size === 0) void this.close();
  }

  // ------------------------------------------------------------ inbound

  #onSocketData(chunk: Buffer): void {
    this.#touch();
    let frames: RawFrame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (e) {
      this.#protocolError(e as Error);
      return;
    }
    for (const f of frames) this.#enqueueIn(f);
  }

  #enqueueIn(item: RawFrame | 'eof' | { closed: Error | undefined }): void {
    this.#in.push(item);
    if (!this.#processing) void this.#processIn();
  }

  async #processIn(): Promise<void> {
    this.#processing = true;
    try {
      while (this.#in.length > 0 && !this.#closed) {
        const item = this.#in.shift()!;
        if (item === 'eof') {
          this.#onEof();
          continue;
        }
        if ('closed' in item) {
          this.#terminate(item.closed);
          continue;
        }
        let frame: SpdyFrame;
        if (item.kind === 'headers') {
          try {
            frame = item.withHeaders(await this.#codec.decompress(item.compressed, item.streamId));
          } catch (e) {
            this.#protocolError(e as Error);
            return;
          }
        } else {
          frame = item.frame;
        }
        this.#handle(frame);
      }
    } finally {
      this.#processing = false;
    }
  }

  #protocolError(error: Error): void {
    if (this.#closed) return;
    this.#goAway(GoAwayStatus.PROTOCOL_ERROR);
    this.#send(Buffer.alloc(0), () => this.destroy(error));
  }

  #ownsId(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'client');
  }

  #handle(frame: SpdyFrame): void {
    switch (frame.type) {
      case 'syn_stream':
        this.#onSynStream(frame);
        return;
      case 'syn_reply': {
        const peer = this.#streams.get(frame.streamId);
        if (!peer) return;
        peer.onReply(frame.headers);
        if (frame.flags & FLAG_FIN) peer.onRemoteFin();
        return;
      }
      case 'headers': {
        const peer = this.#streams.get(frame.streamId);
        if (!peer) return;
        peer.stream.emit('headers', frame.headers);
        if (frame.flags & FLAG_FIN) peer.onRemoteFin();
        return;
      }
      case 'data': {
        // Counted against the windows even when dropped: the peer counted it against its own.
        const withinWindow = this.#flow.received(frame.streamId, frame.data.length);
        const peer = this.#streams.get(frame.streamId);
        if (!peer) {
          // Data for a stream that is gone (reset, or both sides finished) is dropped, as spdystream does.
          return;
        }
        if (peer.remoteFinished) {
          peer.stream.reset(RstStatus.STREAM_ALREADY_CLOSED);
          return;
        }
        if (!withinWindow) {
          peer.stream.reset(RstStatus.FLOW_CONTROL_ERROR);
          return;
        }
        if (frame.data.length > 0) peer.onData(frame.data);
        if (frame.flags & FLAG_FIN) peer.onRemoteFin();
        return;
      }
      case 'rst_stream': {
        this.#streams.get(frame.streamId)?.onReset(frame.status);
        return;
      }
      case 'settings':
        for (const e of frame.entries) {
          if (e.id === SettingsId.INITIAL_WINDOW_SIZE) this.#flow.onInitialWindow(e.value);
        }
        return;
      case 'ping': {
        const mine = (frame.id % 2 === 1) === (this.role === 'client');
        if (!mine) {
          this.#send(encodeControlFrame({ type: 'ping', id: frame.id }));
          return;
        }
        const p = this.#pings.get(frame.id);
        if (p) {
          this.#pings.delete(frame.id);
          p.resolve(performance.now() - p.sent);
        }
        return;
      }
      case 'goaway':
        this.#goneAwayRemote = true;
        this.emit('goaway', frame.status);
        if (this.#streams.size === 0) void this.close();
        return;
      case 'window_update':
        this.#flow.onWindowUpdate(frame.streamId, frame.delta);
        return;
      case 'unknown':
        return;
    }
  }

  #onSynStream(frame: Extract<SpdyFrame, { type: 'syn_stream' }>): void {
    const id = frame.streamId;
    if (id === 0 || this.#ownsId(id) || id <= this.#lastPeerStreamId) {
      this.#sendRst(id, RstStatus.PROTOCOL_ERROR);
      return;
    }
    this.#lastPeerStreamId = id;
    if (this.#goneAwayLocal || this.#closing) {
      this.#sendRst(id, RstStatus.REFUSED_STREAM);
      return;
    }
    let peerOpen = 0;
    for (const p of this.#streams.values()) if (!p.stream.initiatedLocally) peerOpen++;
    if (peerOpen >= this.#maxConcurrent) {
      this.#sendRst(id, RstStatus.REFUSED_STREAM);
      return;
    }
    const peer = this.#addStream(id, frame.headers, false);
    if (frame.flags & FLAG_UNIDIRECTIONAL) peer.markLocalFin();
    if (frame.flags & FLAG_FIN) peer.onRemoteFin();
    this.emit('stream', peer.stream);
  }

  #onEof(): void {
    // The peer closed its side: every stream's readable side ends; the session is over.
    for (const peer of [...this.#streams.values()]) peer.onRemoteFin();
    this.#terminate();
    this.#socket.end();
  }

  #terminate(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    for (const peer of [...this.#streams.values()]) peer.onSessionClosed();
    this.#streams.clear();
    for (const p of this.#pings.values()) p.reject(unavailable('spdy-session-closed', 'the SPDY session closed'));
    this.#pings.clear();
    const outs = this.#out;
    this.#out = [];
    for (const item of outs) {
      if (item.data instanceof Promise) item.data.catch(() => {});
      item.cb?.(unavailable('spdy-session-closed', 'the SPDY session is closed'));
    }
    this.#onDrain();
    this.#flow.close();
    this.#codec.close();
    this.emit('close', error);
  }
}
