// Exec and attach over SPDY (the remotecommand protocols v1-v4): the client opens one stream per
// channel, each named by its `streamType` header; the server replies to each and starts the
// command once all the streams it expects are there (error, plus stdin/stdout/stderr as the
// request asked, plus resize for a TTY from v3 on).

import { deadlineExceeded, unavailable } from '../errors/errors.ts';
import {
  type CommandOutcome,
  encodeOutcome,
  type RemoteCommandStreams,
  ResizeRelay,
  STREAM_CREATION_TIMEOUT_MS,
  StreamType,
  supportsResize,
  type TerminalSize,
} from './remote-command.ts';
import { RstStatus } from './spdy/spdy-frames.ts';
import type { SpdySession } from './spdy/spdy-session.ts';
import type { SpdyStream } from './spdy/spdy-stream.ts';

export interface StreamWants {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Waits for the client's streams; rejects when they do not all come in time or the session ends first. */
export function acceptRemoteCommandSpdy(
  session: SpdySession,
  protocol: string,
  wants: StreamWants,
  creationTimeoutMs = STREAM_CREATION_TIMEOUT_MS,
): Promise<RemoteCommandStreams> {
  let expected = 1;
  if (wants.stdin) expected++;
  if (wants.stdout) expected++;
  if (wants.stderr) expected++;
  if (wants.tty && supportsResize(protocol)) expected++;

  const streams: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>> = {};
  let received = 0;
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
    };
    const onClose = (): void => {
      cleanup();
      reject(unavailable('stream-client-gone', 'the client closed the connection before opening its streams'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        deadlineExceeded('stream-setup-timeout', `timed out waiting for the client to create its streams (${received} of ${expected})`),
      );
    }, creationTimeoutMs);
    const onStream = (stream: SpdyStream): void => {
      const type = stream.header('streamType');
      stream.reply();
      switch (type) {
        case StreamType.error:
        case StreamType.stdin:
        case StreamType.stdout:
        case StreamType.stderr:
        case StreamType.resize:
          if (streams[type]) {
            stream.reset(RstStatus.PROTOCOL_ERROR);
            return;
          }
          streams[type] = stream;
          break;
        default:
          // Unknown stream types are accepted and ignored, as the kubelet does.
          stream.resume();
          return;
      }
      received++;
      if (received < expected) return;
      cleanup();
      resolve(new SpdyRemoteCommandStreams(session, protocol, streams));
    };
    session.on('stream', onStream);
    session.once('close', onClose);
  });
}

class SpdyRemoteCommandStreams implements RemoteCommandStreams {
  readonly protocol: string;
  readonly stdin?: SpdyStream;
  readonly stdout?: SpdyStream;
  readonly stderr?: SpdyStream;
  readonly #error?: SpdyStream;
  readonly #resize?: SpdyStream;
  readonly #session: SpdySession;
  readonly #abort = new AbortController();
  readonly #resizes = new ResizeRelay();
  #finished = false;

  constructor(session: SpdySession, protocol: string, streams: Partial<Record<string, SpdyStream>>) {
    this.#session = session;
    this.protocol = protocol;
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    this.stderr = streams.stderr;
    this.#error = streams.error;
    this.#resize = streams.resize;
    // v1 closes the server's side of stdin at once (a quirk the kubelet keeps).
    if (protocol === 'channel.k8s.io') this.stdin?.end();
    // Nothing is read from the output streams; their readable sides must not hold the connection.
    for (const s of [this.stdout, this.stderr, this.#error]) s?.resume();
    if (this.#resize) this.#resizes.feed(this.#resize);
    if (session.closed) this.#abort.abort();
    else session.once('close', () => this.#abort.abort());
  }

  get disconnected(): AbortSignal {
    return this.#abort.signal;
  }

  onResize(listener: (size: TerminalSize) => void): void {
    this.#resizes.listen(listener);
  }

  async finish(outcome: CommandOutcome): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await Promise.all([endStream(this.stdout), endStream(this.stderr)]);
    const status = encodeOutcome(outcome, this.protocol);
    const error = this.#error;
    if (error && !error.destroyed) {
      if (status) error.write(status);
      await endStream(error);
    }
    await this.#session.close();
  }

  abort(): void {
    this.#finished = true;
    this.#session.destroy();
  }
}

/** Ends a writable stream and waits until its FIN is queued (or the stream is gone). */
export function endStream(stream: SpdyStream | undefined): Promise<void> {
  if (!stream || stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('finish', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('finish', done);
    stream.once('close', done);
    stream.end();
  });
}
