// SPDY/3.1 flow control of one session: the send windows (the session's and each stream's) that
// writers take room from and wait on, and the WINDOW_UPDATEs owed to the peer: a stream's as its
// reader consumes what the peer sent, the session's as soon as data arrives (each stream's window
// bounds what waits unread, and one slow reader must not hold up the others). Both are enforced
// only once the peer has shown that it does flow control (a SETTINGS INITIAL_WINDOW_SIZE or a
// WINDOW_UPDATE): spdystream, i.e. every Kubernetes client and kubelet, never sends WINDOW_UPDATE
// and would stall otherwise.
import { DEFAULT_WINDOW } from './spdy-frames.ts';

export interface FlowControlOptions {
  /** The receive window this side announced for each stream. */
  receiveWindow: number;
  /** Sends a WINDOW_UPDATE; stream 0 is the session. */
  sendWindowUpdate(streamId: number, delta: number): void;
}

interface StreamWindows {
  send: number;
  /** Received and consumed, not yet acknowledged. */
  unacked: number;
  /** What the peer may still send before our next WINDOW_UPDATE. */
  receive: number;
  /** Opened once the peer had shown flow control: its window bounds what waits unread. */
  controlled: boolean;
}

export class FlowControl {
  readonly #o: FlowControlOptions;
  readonly #streams = new Map<number, StreamWindows>();
  #enforced = false;
  #peerInitialWindow = DEFAULT_WINDOW;
  #sessionSend = DEFAULT_WINDOW;
  #sessionUnacked = 0;
  #waiters: (() => void)[] = [];

  constructor(options: FlowControlOptions) {
    this.#o = options;
  }

  /** A stream opened by either side; its send window starts at the peer's initial window. */
  addStream(id: number): void {
    this.#streams.set(id, { send: this.#peerInitialWindow, unacked: 0, receive: this.#o.receiveWindow, controlled: this.#enforced });
  }

  /**
   * Whether the peer keeps stream `id` within the window we give it: it had shown flow control
   * when the stream opened. Other streams need the reader's backpressure on the whole connection.
   */
  controlled(id: number): boolean {
    return this.#streams.get(id)?.controlled ?? false;
  }

  removeStream(id: number): void {
    this.#streams.delete(id);
  }

  /**
   * Room for up to `wanted` bytes on stream `id`, taken from its window and the session's: all of
   * it while the peer does no flow control; 0 means wait (waitForRoom).
   */
  take(id: number, wanted: number): number {
    if (!this.#enforced || wanted <= 0) return wanted;
    const stream = this.#streams.get(id);
    const n = Math.min(wanted, stream?.send ?? 0, this.#sessionSend);
    if (n <= 0) return 0;
    if (stream) stream.send -= n;
    this.#sessionSend -= n;
    return n;
  }

  /** Calls `retry` once a window may have grown (or the session closed). */
  waitForRoom(retry: () => void): void {
    this.#waiters.push(retry);
  }

  /** The peer's SETTINGS INITIAL_WINDOW_SIZE: every open stream's send window moves by the difference. */
  onInitialWindow(value: number): void {
    const delta = value - this.#peerInitialWindow;
    this.#peerInitialWindow = value;
    for (const s of this.#streams.values()) s.send += delta;
    this.#enforced = true;
    this.#wake();
  }

  /** The peer's WINDOW_UPDATE; stream 0 is the session. */
  onWindowUpdate(streamId: number, delta: number): void {
    this.#enforced = true;
    if (streamId === 0) this.#sessionSend += delta;
    else {
      const stream = this.#streams.get(streamId);
      if (stream) stream.send += delta;
    }
    this.#wake();
  }

  /**
   * `bytes` of DATA arrived on stream `id`; the session's share is acknowledged once half a window
   * is due. False when the peer sent past the window of a stream it controls.
   */
  received(id: number, bytes: number): boolean {
    if (bytes <= 0) return true;
    const stream = this.#streams.get(id);
    if (stream) stream.receive -= bytes;
    this.#sessionUnacked += bytes;
    if (this.#sessionUnacked >= DEFAULT_WINDOW / 2) {
      this.#o.sendWindowUpdate(0, this.#sessionUnacked);
      this.#sessionUnacked = 0;
    }
    return !(stream?.controlled === true && stream.receive < 0);
  }

  /**
   * A reader consumed `bytes` of stream `id`: acknowledged once half a window is due, and only
   * while the peer may still send on it.
   */
  consumed(id: number, bytes: number, peerMaySend: boolean): void {
    const stream = this.#streams.get(id);
    if (!stream || bytes <= 0) return;
    stream.unacked += bytes;
    if (stream.unacked >= this.#o.receiveWindow / 2 && peerMaySend) {
      this.#o.sendWindowUpdate(id, stream.unacked);
      stream.receive += stream.unacked;
      stream.unacked = 0;
    }
  }

  /** The session is over: every waiting writer runs again (and finds it closed). */
  close(): void {
    this.#streams.clear();
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
