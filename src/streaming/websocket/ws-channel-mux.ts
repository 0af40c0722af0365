// Channels over one WebSocket: a Readable for each channel the client writes to, a Writable for
// each channel the server writes to. Backpressure: a full reader pauses the socket; writers wait
// for ws to hand their message to the kernel. v5's CLOSE signal ends a reader.

import { Readable, Writable } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { internal, unavailable } from '../../errors/errors.ts';
import { type ChannelCodec, CLOSE_SIGNAL_CHANNEL, decodeChannelMessage, encodeChannelMessage } from './ws-channels.ts';

export interface WsChannelMuxOptions {
  codec: ChannelCodec;
  /** Honour v5's CLOSE signal (channel 255). */
  closeSignals: boolean;
  /** Close the connection when no message went either way for this long; 0: never. */
  idleTimeoutMs: number;
  /** Channels the client may write to; messages on others are dropped. */
  readChannels: number[];
}

export class WsChannelMux {
  readonly #ws: WebSocket;
  readonly #options: WsChannelMuxOptions;
  readonly #readers = new Map<number, Readable>();
  readonly #abort = new AbortController();
  #idleTimer: NodeJS.Timeout | undefined;
  #pausedBy = new Set<number>();
  #closing = false;

  constructor(ws: WebSocket, options: WsChannelMuxOptions) {
    this.#ws = ws;
    this.#options = options;
    for (const channel of options.readChannels) {
      const reader = new Readable({
        read: () => {
          if (this.#pausedBy.delete(channel) && this.#pausedBy.size === 0) ws.resume();
        },
      });
      reader.on('error', () => {});
      this.#readers.set(channel, reader);
    }
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#onClose());
    ws.on('error', () => this.#onClose());
    this.#touch();
  }

  get disconnected(): AbortSignal {
    return this.#abort.signal;
  }

  /** What the client writes on `channel` (one of the read channels). */
  reader(channel: number): Readable {
    const r = this.#readers.get(channel);
    if (!r) throw internal('ws-channel-not-readable', `channel ${channel} is not readable`);
    return r;
  }

  /** A Writable whose chunks go out as messages on `channel`. end() sends nothing (or v5's CLOSE when asked). */
  writer(channel: number, options: { closeSignalOnEnd?: boolean } = {}): Writable {
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.send(channel, chunk).then(
          () => cb(),
          (e: Error) => cb(e),
        );
      },
      final: (cb) => {
        if (options.closeSignalOnEnd && this.#options.closeSignals) {
          this.#sendRaw(Buffer.from([CLOSE_SIGNAL_CHANNEL, channel])).then(
            () => cb(),
            () => cb(),
          );
        } else cb();
      },
    });
    w.on('error', () => {});
    return w;
  }

  /** Sends one message on `channel` (an empty one is allowed: the "connection established" notice). */
  send(channel: number, data: Buffer): Promise<void> {
    return this.#sendRaw(encodeChannelMessage(channel, data, this.#options.codec));
  }

  #sendRaw(message: Buffer | string): Promise<void> {
    if (this.#abort.signal.aborted || this.#ws.readyState !== this.#ws.OPEN)
      return Promise.reject(unavailable('ws-closed', 'the WebSocket is closed'));
    this.#touch();
    return new Promise((resolve, reject) => {
      this.#ws.send(message, { binary: typeof message !== 'string' }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Closes the connection normally (1000) once what was sent has gone out. */
  async close(reason = ''): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1000, reason);
    if (this.#ws.readyState !== this.#ws.CLOSED) {
      const closed = new Promise<void>((resolve) => this.#ws.once('close', () => resolve()));
      const timer = setTimeout(() => this.#ws.terminate(), 2000);
      await closed;
      clearTimeout(timer);
    }
  }

  terminate(): void {
    this.#closing = true;
    this.#ws.terminate();
  }

  #touch(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#options.idleTimeoutMs > 0 && !this.#abort.signal.aborted) {
      this.#idleTimer = setTimeout(() => this.#ws.terminate(), this.#options.idleTimeoutMs);
      this.#idleTimer.unref();
    }
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#touch();
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let msg: ReturnType<typeof decodeChannelMessage>;
    try {
      msg = decodeChannelMessage(this.#options.codec === 'base64' && !isBinary ? raw.toString('latin1') : raw, this.#options.codec);
    } catch {
      return; // the kubelet drops frames it cannot decode
    }
    if (msg === undefined) return;
    if (msg.channel === CLOSE_SIGNAL_CHANNEL && this.#options.closeSignals) {
      const target = msg.data[0];
      const reader = target === undefined ? undefined : this.#readers.get(target);
      if (reader && !reader.readableEnded) reader.push(null);
      return;
    }
    const reader = this.#readers.get(msg.channel);
    if (!reader || reader.readableEnded || reader.destroyed) return;
    if (msg.data.length === 0) return;
    if (!reader.push(msg.data)) {
      this.#pausedBy.add(msg.channel);
      this.#ws.pause();
    }
  }

  #onClose(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    for (const reader of this.#readers.values()) if (!reader.readableEnded && !reader.destroyed) reader.push(null);
    this.#abort.abort();
  }
}
