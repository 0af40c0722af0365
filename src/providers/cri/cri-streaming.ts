// Exec, attach and port-forward over the CRI, as the kubelet reaches a runtime's streaming server:
// the Exec / Attach / PortForward RPC gives a URL, and the session runs there over SPDY/3.1 (every
// runtime's streaming server speaks it; containerd 1.6's only speaks SPDY and the older WebSocket
// protocols, which cannot half-close stdin). The provider's ExecIO is piped to and from the
// session: stdin, stdout, stderr, terminal sizes, and the exit status from the error stream.
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import type { ExecIO, TerminalSize } from '../../agent/provider.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { internal } from '../../errors/errors.ts';
import { upgradeToSpdy } from '../../streaming/client/http-upgrade.ts';
import { type RemoteCommandClientOptions, streamOverSpdy } from '../../streaming/client/remote-command-client.ts';
import { type CommandOutcome, PORT_FORWARD_PROTOCOL, StreamType } from '../../streaming/remote-command.ts';
import { SpdySession } from '../../streaming/spdy/spdy-session.ts';
import type { SpdyStream } from '../../streaming/spdy/spdy-stream.ts';

/** Runtimes wrap their messages the way the kubelet's streaming server does; the node wraps them again. */
function unwrapMessage(message: string): string {
  return message.replace(/^Internal error occurred: /, '').replace(/^error forwarding port \d+ to pod \S+, uid [^:]*: /, '');
}

function writableFor(write: (chunk: Uint8Array) => void | Promise<void>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      Promise.resolve(write(chunk)).then(
        () => callback(),
        (e: Error) => callback(e),
      );
    },
  });
}

/** The client options for `io`: streams adapted, terminal sizes followed in the background. */
function clientOptions(io: ExecIO, signal: AbortSignal): RemoteCommandClientOptions {
  let current: TerminalSize | undefined;
  const listeners = new Set<() => void>();
  if (io.resize !== undefined) {
    const sizes = io.resize;
    void (async () => {
      for await (const size of sizes) {
        current = size;
        for (const l of listeners) l();
        if (signal.aborted) break;
      }
    })().catch(() => {});
  }
  return {
    stdin: io.stdin && Readable.from(io.stdin, { objectMode: false }),
    // The runtime wants at least one stream; an exec asked for none still gets stdout, dropped.
    stdout: io.stdout ? writableFor(io.stdout) : io.stdin || io.stderr ? undefined : writableFor(() => {}),
    stderr: io.stderr && !io.tty ? writableFor(io.stderr) : undefined,
    tty: io.tty === true,
    size: () => current,
    onResize: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    signal,
  };
}

/** The streams an Exec or Attach request asks the runtime for: those the session will carry. */
function requestedStreams(options: RemoteCommandClientOptions) {
  return {
    tty: options.tty,
    stdin: options.stdin !== undefined,
    stdout: options.stdout !== undefined,
    stderr: options.stderr !== undefined,
  };
}

function exitCodeOf(outcome: CommandOutcome): number {
  if (outcome.kind === 'success') return 0;
  if (outcome.kind === 'exit') return outcome.code;
  throw internal('stream-failed', unwrapMessage(outcome.message));
}

export interface CriStreamingOptions {
  runtime: RuntimeClient;
  callTimeoutMs: number;
}

/** Runs `cmd` in the container through the runtime's streaming server; resolves with its exit code. */
export async function execThroughRuntime(
  o: CriStreamingOptions,
  containerId: string,
  cmd: string[],
  io: ExecIO,
  signal: AbortSignal,
): Promise<number> {
  const options = clientOptions(io, signal);
  const { url } = await o.runtime.exec({ containerId, cmd, ...requestedStreams(options) }, { signal, timeoutMs: o.callTimeoutMs });
  return exitCodeOf((await streamOverSpdy(url, options)).outcome);
}

/** Attaches to the container's main process until it ends or the session does. */
export async function attachThroughRuntime(o: CriStreamingOptions, containerId: string, io: ExecIO, signal: AbortSignal): Promise<void> {
  const options = clientOptions(io, signal);
  const { url } = await o.runtime.attach({ containerId, ...requestedStreams(options) }, { signal, timeoutMs: o.callTimeoutMs });
  exitCodeOf((await streamOverSpdy(url, options)).outcome);
}

function textOf(stream: SpdyStream): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    const done = () => resolve(Buffer.concat(parts).toString('utf8'));
    stream.once('end', done);
    stream.once('close', done);
  });
}

/**
 * One connection to `port` in the pod's network, through the runtime's port-forward (one SPDY
 * session per connection). Resolves when the pod's side is done; rejects with the runtime's reason
 * when it could not connect.
 */
export async function portForwardThroughRuntime(
  o: CriStreamingOptions,
  podSandboxId: string,
  port: number,
  stream: { readable: AsyncIterable<Uint8Array>; write(chunk: Uint8Array): void | Promise<void> },
  signal: AbortSignal,
): Promise<void> {
  const { url } = await o.runtime.portForward({ podSandboxId, port: [port] }, { signal, timeoutMs: o.callTimeoutMs });
  signal.throwIfAborted();
  const { socket } = await upgradeToSpdy(url, [PORT_FORWARD_PROTOCOL]);
  const session = new SpdySession(socket, { role: 'client' });
  const onAbort = () => session.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const headers = { streamtype: [StreamType.error], port: [String(port)], requestid: ['0'] };
    const error = session.openStream(headers);
    const data = session.openStream({ ...headers, streamtype: [StreamType.data] });
    await Promise.all([error.replied, data.replied]);
    error.end();
    const reason = textOf(error);
    void (async () => {
      for await (const chunk of stream.readable) {
        if (data.destroyed || data.writableEnded) return;
        if (!data.write(chunk)) await Promise.race([once(data, 'drain'), once(data, 'close')]);
      }
      if (!data.destroyed && !data.writableEnded) data.end();
    })().catch(() => {});
    try {
      for await (const chunk of data) await stream.write(chunk as Buffer);
    } catch {
      // a reset data stream: the reason, if any, is on the error stream
    }
    signal.throwIfAborted();
    const message = await Promise.race([reason, new Promise<string>((r) => setTimeout(() => r(''), 1000).unref())]);
    if (message !== '') throw internal('stream-failed', unwrapMessage(message));
  } finally {
    signal.removeEventListener('abort', onAbort);
    session.destroy();
  }
}
