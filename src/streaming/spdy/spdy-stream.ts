// One SPDY stream of a session (spdy-session.ts) as a Node Duplex. Its state (finished each way,
// reset) is its own; it reaches the connection only through the StreamTransport the session gives
// it, and the peer's frames reach it only through the PeerSide handle the session holds.

import { Duplex } from 'node:stream';
import { BerthError, failedPrecondition, unavailable } from '../../errors/errors.ts';
import { RstStatus, type SpdyHeaders } from './spdy-frames.ts';

/** The largest DATA payload this side writes (spdystream's io.Copy writes 32 KiB). */
const MAX_DATA_CHUNK = 32 * 1024;

/** What a stream needs of its session, bound to the stream's ID. */
export interface StreamTransport {
  /** The session is closed: nothing more goes out. */
  readonly closed: boolean;
  sendReply(headers: SpdyHeaders, fin: boolean): void;
  sendRst(status: number): void;
  /** Queues one DATA frame; `cb` once it is handed to the socket (or the session closed). */
  sendData(data: Buffer, fin: boolean, cb?: (err?: Error | null) => void): void;
  /** Takes room for up to `wanted` bytes from the send windows; 0: wait for room. */
  takeRoom(wanted: number): number;
  waitForRoom(retry: () => void): void;
  /** The reader took `bytes` of received data. */
  consumed(bytes: number, peerMaySend: boolean): void;
  /** The peer keeps this stream within its window (so a full reader need not stop the connection). */
  readonly flowControlled: boolean;
  /** Stops (and resumes) reading the connection for this stream's full reader. */
  pause(): void;
  resume(): void;
  /** The stream is done in both directions, or reset: the session forgets it. */
  done(): void;
}

/** The session's hold on a stream: the peer's frames in, the stream's state out. */
export interface PeerSide {
  readonly stream: SpdyStream;
  readonly localFinished: boolean;
  readonly remoteFinished: boolean;
  /** SYN_REPLY. */
  onReply(headers: SpdyHeaders): void;
  onData(data: Buffer): void;
  /** FIN, or the end of the connection. */
  onRemoteFin(): void;
  onReset(status: number): void;
  /** The connection is gone: readers see the end, writers an error. */
  onSessionClosed(): void;
  /** Opened with FIN or unidirectional: nothing goes out from this side. */
  markLocalFin(): void;
}

/** Reasons a stream ended other than by FIN in both directions. */
export class SpdyStreamResetError extends BerthError {
  readonly status: number;
  constructor(streamId: number, status: number, byPeer: boolean) {
    super('unavailable', 'spdy-stream-reset', `stream ${streamId} reset by ${byPeer ? 'peer' : 'this side'} (status ${status})`);
    this.name = 'SpdyStreamResetError';
    this.status = status;
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
  readonly #transport: StreamTransport;
  #replySent: boolean;
  #resolveReply!: (h: SpdyHeaders) => void;
  #rejectReply!: (e: Error) => void;
  #localFinished = false;
  #remoteFinished = false;
  #resetStatus: number | undefined;
  #resetByPeer = false;
  /** Bytes pushed to the reader, and how many of them the peer has been told were consumed. */
  #pushed = 0;
  #credited = 0;

  /** For the session: a new stream, and the handle through which the peer's frames reach it. */
  static open(transport: StreamTransport, id: number, headers: SpdyHeaders, initiatedLocally: boolean): PeerSide {
    const stream = new SpdyStream(transport, id, headers, initiatedLocally);
    return {
      stream,
      get localFinished() {
        return stream.#localFinished;
      },
      get remoteFinished() {
        return stream.#remoteFinished;
      },
      onReply: (h) => stream.#onReply(h),
      onData: (data) => stream.#onData(data),
      onRemoteFin: () => stream.#onRemoteFin(),
      onReset: (status) => stream.#onReset(status),
      onSessionClosed: () => stream.#onSessionClosed(),
      markLocalFin: () => stream.#markLocalFin(),
    };
  }

  private constructor(transport: StreamTransport, id: number, headers: SpdyHeaders, initiatedLocally: boolean) {
    super({ allowHalfOpen: true, emitClose: true });
    this.#transport = transport;
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
    this.#transport.sendReply(headers, fin);
    if (fin) this.#markLocalFin();
  }

  /** Aborts both directions (RST_STREAM). */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.#resetStatus !== undefined || this.#transport.closed) {
      if (!this.destroyed) this.destroy();
      return;
    }
    this.#resetStatus = status;
    this.#transport.sendRst(status);
    this.#rejectReply(new SpdyStreamResetError(this.id, status, false));
    this.#transport.done();
    this.destroy();
  }

  override _read(): void {
    this.#transport.resume();
  }

  /** Every way of consuming a Readable goes through read(): what left the buffer is credited. */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    this.#credit();
    return chunk;
  }

  #credit(): void {
    const consumed = this.#pushed - this.readableLength - this.#credited;
    if (consumed <= 0) return;
    this.#credited += consumed;
    this.#transport.consumed(consumed, !this.#remoteFinished);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.#replySent) this.reply();
    if (this.#localFinished) {
      cb(failedPrecondition('spdy-stream-closed', `SPDY stream ${this.id} is closed for writing`));
      return;
    }
    this.#sendData(chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.#replySent) this.reply();
    if (this.#localFinished || this.#resetStatus !== undefined) {
      cb();
      return;
    }
    this.#localFinished = true;
    this.#sendData(Buffer.alloc(0), true, (err) => {
      this.#maybeDone();
      cb(err);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.#localFinished && this.#remoteFinished) && this.#resetStatus === undefined && !this.#transport.closed) {
      this.#resetStatus = RstStatus.CANCEL;
      this.#transport.sendRst(RstStatus.CANCEL);
    }
    this.#rejectReply(err ?? unavailable('spdy-stream-closed-early', `SPDY stream ${this.id} closed`));
    this.#transport.done();
    cb(err);
  }

  /** Writes `data` as DATA frames, each within the send windows. */
  #sendData(data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    let off = 0;
    const step = (): void => {
      if (this.#transport.closed) {
        cb(unavailable('spdy-session-closed', 'the SPDY session is closed'));
        return;
      }
      if (this.#resetStatus !== undefined) {
        cb(new SpdyStreamResetError(this.id, this.#resetStatus, this.#resetByPeer));
        return;
      }
      while (off < data.length || (fin && off === data.length)) {
        const wanted = Math.min(MAX_DATA_CHUNK, data.length - off);
        const n = this.#transport.takeRoom(wanted);
        if (wanted > 0 && n <= 0) {
          this.#transport.waitForRoom(step);
          return;
        }
        const last = off + n >= data.length;
        const piece = data.subarray(off, off + n);
        off += n;
        if (last) {
          this.#transport.sendData(piece, fin, cb);
          return;
        }
        this.#transport.sendData(piece, false);
      }
    };
    step();
  }

  #markLocalFin(): void {
    this.#localFinished = true;
    this.#maybeDone();
  }

  #onReply(headers: SpdyHeaders): void {
    this.replyHeaders = headers;
    this.#resolveReply(headers);
  }

  #onData(data: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    this.#pushed += data.length;
    const more = this.push(data);
    this.#credit();
    // A peer that keeps to the window cannot overfill the reader; one that does not (spdystream)
    // is held back by not reading the connection, as spdystream's own blocking handler does.
    if (!more && !this.#transport.flowControlled) this.#transport.pause();
  }

  #onRemoteFin(): void {
    if (this.#remoteFinished) return;
    this.#remoteFinished = true;
    if (!this.destroyed) this.push(null);
    this.#maybeDone();
  }

  #onReset(status: number): void {
    this.#resetStatus = status;
    this.#resetByPeer = true;
    this.#rejectReply(new SpdyStreamResetError(this.id, status, true));
    this.emit('reset', status);
    this.#transport.done();
    // A reset ends the readable side for readers (spdystream reports EOF) and stops writing.
    this.#endThenDestroy();
  }

  #onSessionClosed(): void {
    this.#rejectReply(unavailable('spdy-session-closed', 'the SPDY session closed'));
    this.#endThenDestroy();
  }

  /** Ends the readable side; destroys once what was received has been read. */
  #endThenDestroy(): void {
    if (this.destroyed) return;
    if (!this.#remoteFinished) {
      this.#remoteFinished = true;
      this.push(null);
    }
    if (this.readableLength === 0 || this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  #maybeDone(): void {
    if (this.#localFinished && this.#remoteFinished) this.#transport.done();
  }
}
