// Exec and attach over WebSocket: channels 0 stdin, 1 stdout, 2 stderr, 3 error (the status),
// 4 resize. Subprotocols as the kubelet serves them, plus v5.channel.k8s.io (stdin half-close by
// the CLOSE signal), which kubectl 1.30+ asks for.
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { type CommandOutcome, encodeOutcome, type RemoteCommandStreams, ResizeRelay, type TerminalSize } from '../remote-command.ts';
import type { StreamWants } from '../remote-command-spdy.ts';
import { WsChannelMux } from './ws-channel-mux.ts';
import type { ChannelCodec } from './ws-channels.ts';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

/** WebSocket subprotocols for exec/attach, in the order this server prefers them. */
export const WS_REMOTE_COMMAND_PROTOCOLS: Record<string, { codec: ChannelCodec; closeSignals: boolean }> = {
  'v5.channel.k8s.io': { codec: 'binary', closeSignals: true },
  'v4.channel.k8s.io': { codec: 'binary', closeSignals: false },
  'v4.base64.channel.k8s.io': { codec: 'base64', closeSignals: false },
  'channel.k8s.io': { codec: 'binary', closeSignals: false },
  'base64.channel.k8s.io': { codec: 'base64', closeSignals: false },
};

/** Sets up the channels on an open WebSocket and tells the client that the session is up. */
export async function acceptRemoteCommandWs(
  ws: WebSocket,
  protocol: string,
  wants: StreamWants,
  idleTimeoutMs: number,
): Promise<RemoteCommandStreams> {
  const p = WS_REMOTE_COMMAND_PROTOCOLS[protocol] ?? { codec: 'binary' as const, closeSignals: false };
  const mux = new WsChannelMux(ws, { codec: p.codec, closeSignals: p.closeSignals, idleTimeoutMs, readChannels: [STDIN, RESIZE] });
  const streams = new WsRemoteCommandStreams(mux, protocol, wants);
  // An empty message on the lowest writable channel says the connection is established.
  const first = wants.stdout ? STDOUT : wants.stderr ? STDERR : ERROR;
  await mux.send(first, Buffer.alloc(0)).catch(() => {});
  return streams;
}

class WsRemoteCommandStreams implements RemoteCommandStreams {
  readonly protocol: string;
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  readonly #mux: WsChannelMux;
  readonly #resizes = new ResizeRelay();
  #finished = false;

  constructor(mux: WsChannelMux, protocol: string, wants: StreamWants) {
    this.#mux = mux;
    this.protocol = protocol;
    if (wants.stdin) this.stdin = mux.reader(STDIN);
    else mux.reader(STDIN).resume();
    if (wants.stdout) this.stdout = mux.writer(STDOUT);
    if (wants.stderr) this.stderr = mux.writer(STDERR);
    this.#resizes.feed(mux.reader(RESIZE));
  }

  get disconnected(): AbortSignal {
    return this.#mux.disconnected;
  }

  onResize(listener: (size: TerminalSize) => void): void {
    this.#resizes.listen(listener);
  }

  async finish(outcome: CommandOutcome): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await Promise.all([finished(this.stdout), finished(this.stderr)]);
    const status = encodeOutcome(outcome, this.protocol);
    if (status) await this.#mux.send(ERROR, status).catch(() => {});
    await this.#mux.close();
  }

  abort(): void {
    this.#finished = true;
    this.#mux.terminate();
  }
}

function finished(w: Writable | undefined): Promise<void> {
  if (!w || w.writableFinished || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    w.once('finish', () => resolve());
    w.once('close', () => resolve());
    w.end();
  });
}
