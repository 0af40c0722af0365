// The client side of exec and attach, over SPDY (remotecommand v1-v4, as client-go's
// SPDYExecutor speaks it) or over a WebSocket (v5.channel.k8s.io by default, as kubectl 1.30+).
// Works against any streaming server that follows the Kubernetes protocols: berth's, containerd's,
// CRI-O's, a kubelet's.
import type http from 'node:http';
import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import {
  type CommandOutcome,
  decodeOutcome,
  encodeResize,
  SPDY_REMOTE_COMMAND_PROTOCOLS,
  StreamType,
  supportsResize,
  type TerminalSize,
} from '../remote-command.ts';
import { SpdySession } from '../spdy/spdy-session.ts';
import type { SpdyStream } from '../spdy/spdy-stream.ts';
import { WS_REMOTE_COMMAND_PROTOCOLS } from '../websocket/remote-command-ws.ts';
import { closeSignal, decodeChannelMessage, encodeChannelMessage } from '../websocket/ws-channels.ts';
import { UpgradeError, upgradeToSpdy } from './http-upgrade.ts';

export interface RemoteCommandClientOptions {
  /** Sent to the command's stdin; its end closes stdin. Absent: no stdin. */
  stdin?: Readable;
  /** Absent: the output is not asked for. Not ended by the client (it may be process.stdout). */
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  /** The terminal's size now; sent first (TTY sessions). */
  size?: () => TerminalSize | undefined;
  /** Subscribes to size changes; returns the unsubscribe function. */
  onResize?: (listener: () => void) => () => void;
  /** Ends the session at once (the call then rejects). */
  signal?: AbortSignal;
  /** The connection's agent (a unix socket, client certificates); absent: a plain connection. */
  agent?: http.Agent;
}

export interface RemoteCommandResult {
  outcome: CommandOutcome;
  /** The subprotocol the server picked. */
  protocol: string;
  transport: 'spdy' | 'websocket';
}

/** Copies `from` to a stream-like `write`, with backpressure, until it ends; returns a stop function. */
function feed(from: Readable, write: (chunk: Buffer) => boolean, drain: (cb: () => void) => void, end: () => void): () => void {
  const onData = (chunk: Buffer | string): void => {
    if (!write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) {
      from.pause();
      drain(() => from.resume());
    }
  };
  from.on('data', onData);
  from.once('end', end);
  from.resume();
  return () => {
    from.off('data', onData);
    from.off('end', end);
    from.pause();
  };
}

function toWritable(from: Readable, to: Writable | undefined): Promise<void> {
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer) => {
      if (to && !to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => resolve());
    from.once('close', () => resolve());
  });
}

function collect(from: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    from.on('data', (d: Buffer) => parts.push(d));
    const done = (): void => resolve(Buffer.concat(parts));
    from.once('end', done);
    from.once('close', done);
  });
}

/** Exec or attach over SPDY at `url` (a URL from the Exec or Attach RPC). */
export async function streamOverSpdy(url: string, options: RemoteCommandClientOptions): Promise<RemoteCommandResult> {
  const { socket, protocol } = await upgradeToSpdy(url, SPDY_REMOTE_COMMAND_PROTOCOLS, options.agent ? { agent: options.agent } : {});
  const session = new SpdySession(socket, { role: 'client' });
  const stops: (() => void)[] = [];
  const onAbort = (): void => session.destroy();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  stops.push(() => options.signal?.removeEventListener('abort', onAbort));
  if (options.signal?.aborted) onAbort();
  try {
    const open = (type: string): SpdyStream => session.openStream({ streamtype: [type] });
    const error = open(StreamType.error);
    const stdin = options.stdin ? open(StreamType.stdin) : undefined;
    const stdout = options.stdout ? open(StreamType.stdout) : undefined;
    const stderr = options.stderr && !options.tty ? open(StreamType.stderr) : undefined;
    const resize = options.tty && supportsResize(protocol) ? open(StreamType.resize) : undefined;
    const all = [error, stdin, stdout, stderr, resize].filter((s): s is SpdyStream => s !== undefined);
    await Promise.all(all.map((s) => s.replied));
    const status = collect(error);
    const outputs = [stdout ? toWritable(stdout, options.stdout) : undefined, stderr ? toWritable(stderr, options.stderr) : undefined];
    if (stdin && options.stdin) {
      stops.push(
        feed(
          options.stdin,
          (c) => stdin.write(c),
          (cb) => stdin.once('drain', cb),
          () => stdin.end(),
        ),
      );
      stdin.resume();
    }
    if (resize) {
      resize.resume();
      const send = (): void => {
        const size = options.size?.();
        if (size && !resize.destroyed && !resize.writableEnded) resize.write(encodeResize(size));
      };
      send();
      if (options.onResize) stops.push(options.onResize(send));
    }
    await Promise.all(outputs);
    const statusData = await status;
    options.signal?.throwIfAborted();
    const outcome = decodeOutcome(statusData, protocol);
    return { outcome, protocol, transport: 'spdy' };
  } finally {
    for (const stop of stops) stop();
    session.destroy();
  }
}

/** Exec or attach over a WebSocket; `protocols` in order of preference. */
export async function streamOverWebSocket(
  url: string,
  options: RemoteCommandClientOptions,
  protocols: readonly string[] = ['v5.channel.k8s.io'],
): Promise<RemoteCommandResult> {
  const wsUrl = url.replace(/^http/, 'ws');
  const ws = new WebSocket(wsUrl, [...protocols], {
    perMessageDeflate: false,
    rejectUnauthorized: false,
    handshakeTimeout: 30_000,
    ...(options.agent ? { agent: options.agent } : {}),
  });
  // Listening from the start: a server may send its first messages together with the 101.
  const codec = () => (WS_REMOTE_COMMAND_PROTOCOLS[ws.protocol] ?? { codec: 'binary' as const }).codec;
  const statusParts: Buffer[] = [];
  const closed = new Promise<void>((resolve) => {
    ws.on('message', (data, isBinary) => {
      const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      let msg: ReturnType<typeof decodeChannelMessage>;
      try {
        msg = decodeChannelMessage(codec() === 'base64' && !isBinary ? raw.toString('latin1') : raw, codec());
      } catch {
        return;
      }
      if (!msg || msg.data.length === 0) return;
      const target = msg.channel === 1 ? options.stdout : msg.channel === 2 ? options.stderr : undefined;
      if (msg.channel === 3) statusParts.push(msg.data);
      else if (target && !target.write(msg.data)) {
        ws.pause();
        target.once('drain', () => ws.resume());
      }
    });
    ws.once('close', () => resolve());
    ws.once('error', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => reject(new UpgradeError(res.statusCode ?? 0, `unable to upgrade connection: ${body.trim() || res.statusCode}`)));
      res.on('error', () => reject(new UpgradeError(res.statusCode ?? 0, `unable to upgrade connection: ${res.statusCode}`)));
    });
    ws.once('error', (e) => reject(e));
  });
  const protocol = ws.protocol;
  const p = WS_REMOTE_COMMAND_PROTOCOLS[protocol] ?? { codec: 'binary' as const, closeSignals: false };
  const stops: (() => void)[] = [];
  const send = (channel: number, data: Buffer): boolean => {
    if (ws.readyState !== WebSocket.OPEN) return true;
    ws.send(encodeChannelMessage(channel, data, p.codec));
    return ws.bufferedAmount < 1024 * 1024;
  };
  const afterSend = (cb: () => void): void => {
    const check = (): void => {
      if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount < 256 * 1024) cb();
      else setTimeout(check, 10);
    };
    check();
  };
  try {
    if (options.stdin) {
      stops.push(
        feed(
          options.stdin,
          (c) => send(0, c),
          afterSend,
          () => {
            if (p.closeSignals && ws.readyState === WebSocket.OPEN) ws.send(closeSignal(0));
          },
        ),
      );
    }
    if (options.tty) {
      const resize = (): void => {
        const size = options.size?.();
        if (size) send(4, encodeResize(size));
      };
      resize();
      if (options.onResize) stops.push(options.onResize(resize));
    }
    await closed;
    return { outcome: decodeOutcome(Buffer.concat(statusParts), protocol), protocol, transport: 'websocket' };
  } finally {
    for (const stop of stops) stop();
    ws.terminate();
  }
}
