// A SPDY/3.1 session over one byte stream (an upgraded HTTP connection), as moby/spdystream
// speaks it for the Kubernetes streaming protocols: streams opened with SYN_STREAM and accepted
// with SYN_REPLY, data in DATA frames, half-close with FIN, abort with RST_STREAM, PING, GOAWAY.
//
// Each SpdyStream is a Node Duplex: what the peer sends is readable, what is written goes out in
// DATA frames, end() sends FIN. Backpressure: a stream whose reader falls behind pauses the whole
// connection (as spdystream's blocking frame handler does), and writers wait for the socket to
// drain. Flow-control windows are tracked both ways; received data is acknowledged with
// WINDOW_UPDATE as it is consumed, and the send windows are enforced only once the peer has shown
// that it does flow control (a SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE): spdystream, i.e.
// every Kubernetes client and kubelet, never sends WINDOW_UPDATE and would stall otherwise.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
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

/** The largest DATA payload this side writes (spdystream's io.Copy writes 32 KiB). */
const MAX_DATA_CHUNK = 32 * 1024;
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
}

export interface SpdySessionEvents {
  stream: [stream: SpdyStream];
  goaway: [status: number];
  timeout: [];
  close: [error?: Error];
}

/** Reasons a stream ended other than by FIN in both directions. */
export class SpdyStreamResetError extends Error {
  readonly status: number;
  constructor(streamId: number, status: number, byPeer: boolean) {
    super(`stream ${streamId} reset by ${byPeer ? 'peer' : 'this side'} (status ${status})`);
    this.name = 'SpdyStreamResetError';
    this.status = status;
  }
}

type OutItem = { data: Buffer | Promise<Buffer>; cb?: (err?: Error | null) => void };

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  readonly role: 'client' | 'server';
  readonly #socket: Duplex;
  readonly #codec = new HeaderCodec();
  readonly #parser = new FrameParser();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #maxConcurrent: number;
  readonly #receiveWindow: number;
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

  /** Send windows are enforced once the peer showed flow control. */
  #peerFlowControl = false;
  #peerInitialWindow = DEFAULT_WINDOW;
  #sessionSendWindow = DEFAULT_WINDOW;
  #sessionUnacked = 0;
  #windowWaiters: (() => void)[] = [];

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
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    socket.on('data', (chunk: Buffer) => this.#onSocketData(chunk));
    socket.on('end', () => this.#enqueueIn('eof'));
    // Frames already read are handled before the session ends (header blocks decompress asynchronously).
    socket.on('error', (e) => this.#enqueueIn({ closed: e }));
    socket.on('close', () => this.#enqueueIn({ closed: undefined }));
    socket.on('drain', () => this.#onDrain());
    this.#touch();
    // Announce the stream window; spdystream ignores SETTINGS, flow-controlled peers need it.
    if (this.#receiveWindow !== DEFAULT_WINDOW) {
      this.#send(
        encodeControlFrame({
          type: 'settings',
          flags: 0,
          entries: [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: this.#receiveWindow }],
        }),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
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
    if (this.#closed || this.#goneAwayLocal || this.#goneAwayRemote) throw new Error('the SPDY session is closing');
    const id = this.#nextStreamId;
    if (id > 0x7fff_ffff) throw new Error('SPDY stream IDs exhausted');
    this.#nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, true);
    this.#streams.set(id, stream);
    this.#sendHeaders({ type: 'syn_stream', streamId: id, associatedTo: 0, priority: 0, flags: options.fin ? FLAG_FIN : 0, headers });
    if (options.fin) stream._markLocalFin();
    return stream;
  }

  /** Round-trip time of a PING, in milliseconds. */
  ping(timeoutMs = 10_000): Promise<number> {
    const id = this.#nextPingId;
    this.#nextPingId += 2;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        reject(new Error('SPDY ping timed out'));
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
      const ending = [...this.#streams.values()].filter((s) => s.writableEnded && !s.writableFinished);
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
      for (const stream of [...this.#streams.values()]) {
        if (!(stream._localFinished && stream._remoteFinished)) stream.reset(RstStatus.CANCEL);
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
        this.destroy(new Error(`SPDY session idle for ${this.#idleTimeoutMs} ms`));
      }, this.#idleTimeoutMs);
      this.#idleTimer.unref();
    }
  }

  #send(data: Buffer | Promise<Buffer>, cb?: (err?: Error | null) => void): void {
    if (this.#closed) {
      if (data instanceof Promise) data.catch(() => {});
      cb?.(new Error('the SPDY session is closed'));
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
          item.cb?.(new Error('the SPDY session is closed'));
          continue;
        }
        let ok = true;
        if (buf.length > 0) {
          this.#touch();
          ok = this.#socket.write(buf);
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

  #onDrain(): void {
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

  /** @internal SYN_REPLY for a stream the peer opened. */
  _reply(stream: SpdyStream, headers: SpdyHeaders, fin: boolean): void {
    this.#sendHeaders({ type: 'syn_reply', streamId: stream.id, flags: fin ? FLAG_FIN : 0, headers });
  }

  /** @internal */
  _sendRst(streamId: number, status: number): void {
    this.#send(encodeControlFrame({ type: 'rst_stream', streamId, status }));
  }

  /** @internal Writes `data` as DATA frames, within the send windows when the peer does flow control. */
  _sendData(stream: SpdyStream, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    let off = 0;
    const step = (): void => {
      if (this.#closed) {
        cb(new Error('the SPDY session is closed'));
        return;
      }
      if (stream._resetStatus !== undefined) {
        cb(new SpdyStreamResetError(stream.id, stream._resetStatus, stream._resetByPeer));
        return;
      }
      while (off < data.length || (fin && off === data.length)) {
        let n = Math.min(MAX_DATA_CHUNK, data.length - off);
        if (this.#peerFlowControl && n > 0) {
          n = Math.min(n, stream._sendWindow, this.#sessionSendWindow);
          if (n <= 0) {
            this.#windowWaiters.push(step);
            return;
          }
          stream._sendWindow -= n;
          this.#sessionSendWindow -= n;
        }
        const last = off + n >= data.length;
        const piece = data.subarray(off, off + n);
        off += n;
        const frame = encodeDataFrame(stream.id, piece, fin && last);
        if (last) {
          this.#send(frame, cb);
          return;
        }
        this.#send(frame);
      }
    };
    step();
  }

  #wakeWindowWaiters(): void {
    const waiters = this.#windowWaiters;
    this.#windowWaiters = [];
    for (const w of waiters) w();
  }

  /** @internal The reader of `stream` consumed `bytes`: acknowledge them when half a window is due. */
  _consumed(stream: SpdyStream, bytes: number): void {
    if (this.#closed || bytes <= 0) return;
    stream._recvUnacked += bytes;
    this.#sessionUnacked += bytes;
    if (stream._recvUnacked >= this.#receiveWindow / 2 && !stream._remoteFinished) {
      this.#send(encodeControlFrame({ type: 'window_update', streamId: stream.id, delta: stream._recvUnacked }));
      stream._recvUnacked = 0;
    }
    if (this.#sessionUnacked >= DEFAULT_WINDOW / 2) {
      this.#send(encodeControlFrame({ type: 'window_update', streamId: 0, delta: this.#sessionUnacked }));
      this.#sessionUnacked = 0;
    }
  }

  /** @internal A stream's reader is full: stop reading the socket until it asks for more. */
  _pauseFor(stream: SpdyStream): void {
    this.#pausedBy.add(stream.id);
    this.#socket.pause();
  }

  /** @internal */
  _resumeFor(stream: SpdyStream): void {
    if (!this.#pausedBy.delete(stream.id)) return;
    if (this.#pausedBy.size === 0 && !this.#closed) this.#socket.resume();
  }

  /** @internal The stream is done in both directions (or reset): forget it. */
  _forget(stream: SpdyStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this._resumeFor(stream);
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
        const stream = this.#streams.get(frame.streamId);
        if (!stream) return;
        stream._onReply(frame.headers);
        if (frame.flags & FLAG_FIN) stream._onRemoteFin();
        return;
      }
      case 'headers': {
        const stream = this.#streams.get(frame.streamId);
        if (!stream) return;
        stream.emit('headers', frame.headers);
        if (frame.flags & FLAG_FIN) stream._onRemoteFin();
        return;
      }
      case 'data': {
        const stream = this.#streams.get(frame.streamId);
        if (!stream) {
          // Data for a stream that is gone (reset, or both sides finished) is dropped, as spdystream does.
          return;
        }
        if (stream._remoteFinished) {
          stream.reset(RstStatus.STREAM_ALREADY_CLOSED);
          return;
        }
        if (frame.data.length > 0) stream._onData(frame.data);
        if (frame.flags & FLAG_FIN) stream._onRemoteFin();
        return;
      }
      case 'rst_stream': {
        const stream = this.#streams.get(frame.streamId);
        stream?._onReset(frame.status);
        return;
      }
      case 'settings':
        for (const e of frame.entries) {
          if (e.id === SettingsId.INITIAL_WINDOW_SIZE) {
            const delta = e.value - this.#peerInitialWindow;
            this.#peerInitialWindow = e.value;
            for (const s of this.#streams.values()) s._sendWindow += delta;
            this.#peerFlowControl = true;
            this.#wakeWindowWaiters();
          }
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
        this.#peerFlowControl = true;
        if (frame.streamId === 0) this.#sessionSendWindow += frame.delta;
        else {
          const stream = this.#streams.get(frame.streamId);
          if (stream) stream._sendWindow += frame.delta;
        }
        this.#wakeWindowWaiters();
        return;
      case 'unknown':
        return;
    }
  }

  #onSynStream(frame: Extract<SpdyFrame, { type: 'syn_stream' }>): void {
    const id = frame.streamId;
    if (id === 0 || this.#ownsId(id) || id <= this.#lastPeerStreamId) {
      this._sendRst(id, RstStatus.PROTOCOL_ERROR);
      return;
    }
    this.#lastPeerStreamId = id;
    if (this.#goneAwayLocal || this.#closing) {
      this._sendRst(id, RstStatus.REFUSED_STREAM);
      return;
    }
    let peerOpen = 0;
    for (const s of this.#streams.values()) if (!s.initiatedLocally) peerOpen++;
    if (peerOpen >= this.#maxConcurrent) {
      this._sendRst(id, RstStatus.REFUSED_STREAM);
      return;
    }
    const stream = new SpdyStream(this, id, frame.headers, false);
    stream._sendWindow = this.#peerInitialWindow;
    this.#streams.set(id, stream);
    if (frame.flags & FLAG_UNIDIRECTIONAL) stream._markLocalFin();
    if (frame.flags & FLAG_FIN) stream._onRemoteFin();
    this.emit('stream', stream);
  }

  #onEof(): void {
    // The peer closed its side: every stream's readable side ends; the session is over.
    for (const stream of [...this.#streams.values()]) stream._onRemoteFin();
    this.#terminate();
    this.#socket.end();
  }

  #terminate(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    for (const stream of [...this.#streams.values()]) stream._onSessionClosed();
    this.#streams.clear();
    for (const p of this.#pings.values()) p.reject(new Error('the SPDY session closed'));
    this.#pings.clear();
    const outs = this.#out;
    this.#out = [];
    for (const item of outs) {
      if (item.data instanceof Promise) item.data.catch(() => {});
      item.cb?.(new Error('the SPDY session is closed'));
    }
    this.#onDrain();
    this.#wakeWindowWaiters();
    this.#codec.close();
    this.emit('close', error);
  }
}

/**
 * One SPDY stream as a Duplex (events beyond a Duplex's: 'reset' (status) when the peer reset it,
 * 'headers' (headers) for a HEADERS frame). Readable: the peer's DATA until its FIN. Writable: DATA frames;
 * end() sends FIN. A stream the peer opened must be replied to (reply()) before data goes out;
 * write() replies first on its own.
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  /** The headers of the SYN_STREAM that opened it. */
  readonly headers: SpdyHeaders;
  readonly initiatedLocally: boolean;
  /** For streams opened here: settles when the peer accepts (SYN_REPLY) or refuses (RST_STREAM) the stream. */
  readonly replied: Promise<SpdyHeaders>;
  replyHeaders: SpdyHeaders | undefined;
  readonly #session: SpdySession;
  #replySent: boolean;
  #resolveReply!: (h: SpdyHeaders) => void;
  #rejectReply!: (e: Error) => void;

  /** @internal */ _localFinished = false;
  /** @internal */ _remoteFinished = false;
  /** @internal */ _resetStatus: number | undefined;
  /** @internal */ _resetByPeer = false;
  /** @internal */ _sendWindow = DEFAULT_WINDOW;
  /** @internal */ _recvUnacked = 0;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders, initiatedLocally: boolean) {
    super({ allowHalfOpen: true, emitClose: true });
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.initiatedLocally = initiatedLocally;
    this.#replySent = initiatedLocally;
    this.replied = new Promise((resolve, reject) => {
      this.#resolveReply = resolve;
      this.#rejectReply = reject;
    });
    this.replied.catch(() => {});
    if (!initiatedLocally) this.#resolveReply({});
    // Failures reach users through write callbacks, pipeline() and 'close'; an 'error' nobody
    // listens to must not take the daemon down.
    this.on('error', () => {});
  }

  /** The first value of one of the SYN_STREAM headers. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** Accepts a stream the peer opened (SYN_REPLY). */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (this.#replySent || this.destroyed) return;
    this.#replySent = true;
    this.#session._reply(this, headers, fin);
    if (fin) this._markLocalFin();
  }

  /** Aborts both directions (RST_STREAM). */
  reset(status: number = RstStatus.CANCEL): void {
    if (this._resetStatus !== undefined || this.#session.closed) {
      if (!this.destroyed) this.destroy();
      return;
    }
    this._resetStatus = status;
    this.#session._sendRst(this.id, status);
    this.#rejectReply(new SpdyStreamResetError(this.id, status, false));
    this.#session._forget(this);
    this.destroy();
  }

  override _read(): void {
    this.#session._resumeFor(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.#replySent) this.reply();
    if (this._localFinished) {
      cb(new Error(`SPDY stream ${this.id} is closed for writing`));
      return;
    }
    this.#session._sendData(this, chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.#replySent) this.reply();
    if (this._localFinished || this._resetStatus !== undefined) {
      cb();
      return;
    }
    this._localFinished = true;
    this.#session._sendData(this, Buffer.alloc(0), true, (err) => {
      this.#maybeDone();
      cb(err);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this._localFinished && this._remoteFinished) && this._resetStatus === undefined && !this.#session.closed) {
      this._resetStatus = RstStatus.CANCEL;
      this.#session._sendRst(this.id, RstStatus.CANCEL);
    }
    this.#rejectReply(err ?? new Error(`SPDY stream ${this.id} closed`));
    this.#session._forget(this);
    cb(err);
  }

  /** @internal */
  _markLocalFin(): void {
    this._localFinished = true;
    this.#maybeDone();
  }

  /** @internal */
  _onReply(headers: SpdyHeaders): void {
    this.replyHeaders = headers;
    this.#resolveReply(headers);
  }

  /** @internal */
  _onData(data: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    const more = this.push(data);
    this.#session._consumed(this, data.length);
    if (!more) this.#session._pauseFor(this);
  }

  /** @internal */
  _onRemoteFin(): void {
    if (this._remoteFinished) return;
    this._remoteFinished = true;
    if (!this.destroyed) this.push(null);
    this.#maybeDone();
  }

  /** @internal */
  _onReset(status: number): void {
    this._resetStatus = status;
    this._resetByPeer = true;
    this.#rejectReply(new SpdyStreamResetError(this.id, status, true));
    this.emit('reset', status);
    this.#session._forget(this);
    // A reset ends the readable side for readers (spdystream reports EOF) and stops writing.
    this.#endThenDestroy();
  }

  /** @internal The connection is gone: readers see the end, writers an error. */
  _onSessionClosed(): void {
    this.#rejectReply(new Error('the SPDY session closed'));
    this.#endThenDestroy();
  }

  /** Ends the readable side; destroys once what was received has been read. */
  #endThenDestroy(): void {
    if (this.destroyed) return;
    if (!this._remoteFinished) {
      this._remoteFinished = true;
      this.push(null);
    }
    if (this.readableLength === 0 || this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  #maybeDone(): void {
    if (this._localFinished && this._remoteFinished) this.#session._forget(this);
  }
}
