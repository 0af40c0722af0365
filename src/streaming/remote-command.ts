// The remotecommand protocols (exec and attach) independent of their transport: names and
// negotiation, the final status on the error channel, terminal-size messages, and the streams a
// transport hands to the command it runs.
import type { Readable, Writable } from 'node:stream';

/** SPDY subprotocols (X-Stream-Protocol-Version), newest first: the kubelet's preference. */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export type SpdyRemoteCommandProtocol = (typeof SPDY_REMOTE_COMMAND_PROTOCOLS)[number];

/** The port-forward subprotocol over SPDY. */
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** How long a SPDY client may take to open the streams it announced (the kubelet's default). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

/** Stream types (the `streamType` header of SPDY streams). */
export const StreamType = {
  error: 'error',
  stdin: 'stdin',
  stdout: 'stdout',
  stderr: 'stderr',
  resize: 'resize',
  data: 'data',
} as const;

/**
 * The first protocol in the client's list (in its order of preference) that the server speaks, as
 * the kubelet's httpstream.Handshake picks it; values may be comma-separated.
 */
export function negotiateProtocol(clientOffers: readonly string[], serverProtocols: readonly string[]): string | undefined {
  const offers = clientOffers.flatMap((h) => h.split(',').map((p) => p.trim())).filter((p) => p !== '');
  return offers.find((p) => serverProtocols.includes(p));
}

/** Whether the error channel carries a JSON metav1.Status (v4 and later) or plain text (v1-v3). */
export function statusIsJson(protocol: string): boolean {
  return /^v[45]\./.test(protocol);
}

/** The v3+ protocols carry terminal resize messages. */
export function supportsResize(protocol: string): boolean {
  return !/^(v2\.)?(base64\.)?channel\.k8s\.io$/.test(protocol) && protocol !== '';
}

export type CommandOutcome =
  | { kind: 'success' }
  /** The command ran and exited with a non-zero code. */
  | { kind: 'exit'; code: number }
  /** It could not run, or the attach failed. */
  | { kind: 'error'; message: string };

/** metav1.Status as the kubelet writes it on the error stream (v4+). */
export function statusObject(outcome: CommandOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case 'success':
      return { metadata: {}, status: 'Success' };
    case 'exit':
      return {
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: exit status ${outcome.code}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(outcome.code) }] },
      };
    case 'error':
      return {
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: ${outcome.message}`,
        reason: 'InternalError',
        details: { causes: [{ message: outcome.message }] },
        code: 500,
      };
  }
}

/** What goes on the error channel at the end; undefined when nothing does (success before v4). */
export function encodeOutcome(outcome: CommandOutcome, protocol: string): Buffer | undefined {
  const status = statusObject(outcome);
  if (statusIsJson(protocol)) return Buffer.from(JSON.stringify(status));
  if (outcome.kind === 'success') return undefined;
  return Buffer.from(String(status.message));
}

/** The outcome a client reads back from the error channel (the client side of encodeOutcome). */
export function decodeOutcome(data: Buffer, protocol: string): CommandOutcome {
  if (data.length === 0) return { kind: 'success' };
  if (!statusIsJson(protocol)) {
    const text = data.toString('utf8');
    const m = /non-zero exit code: .*?(\d+)\s*$/.exec(text);
    return m ? { kind: 'exit', code: Number(m[1]) } : { kind: 'error', message: text };
  }
  let status: { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(data.toString('utf8'));
  } catch {
    return { kind: 'error', message: `unreadable status: ${data.toString('utf8')}` };
  }
  if (status.status === 'Success') return { kind: 'success' };
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return { kind: 'exit', code };
  }
  return { kind: 'error', message: status.message ?? 'unknown error' };
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * Splits the resize stream into sizes: a sequence of JSON objects `{"Width":80,"Height":24}`
 * (client-go writes one per line; nothing requires the newline). Bad objects are skipped.
 */
export class ResizeDecoder {
  #text = '';

  push(chunk: Buffer | string): TerminalSize[] {
    this.#text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const out: TerminalSize[] = [];
    for (;;) {
      const start = this.#text.indexOf('{');
      if (start < 0) {
        this.#text = '';
        return out;
      }
      const end = this.#text.indexOf('}', start);
      if (end < 0) {
        this.#text = this.#text.slice(start);
        if (this.#text.length > 4096) this.#text = '';
        return out;
      }
      const body = this.#text.slice(start, end + 1);
      this.#text = this.#text.slice(end + 1);
      try {
        const raw = JSON.parse(body) as { Width?: unknown; Height?: unknown; width?: unknown; height?: unknown };
        const width = Number(raw.Width ?? raw.width);
        const height = Number(raw.Height ?? raw.height);
        if (Number.isInteger(width) && Number.isInteger(height) && width >= 0 && height >= 0 && width <= 0xffff && height <= 0xffff) {
          out.push({ width, height });
        }
      } catch {
        // not a size: skip it
      }
    }
  }
}

/**
 * Reads sizes off a resize stream from the start (so that the stream never stalls the connection)
 * and hands them to listeners; a listener that comes late first gets the latest size.
 */
export class ResizeRelay {
  readonly #listeners: ((size: TerminalSize) => void)[] = [];
  #last: TerminalSize | undefined;

  feed(stream: Readable): void {
    const decoder = new ResizeDecoder();
    stream.on('data', (chunk: Buffer) => {
      for (const size of decoder.push(chunk)) {
        this.#last = size;
        for (const l of this.#listeners) l(size);
      }
    });
  }

  listen(listener: (size: TerminalSize) => void): void {
    this.#listeners.push(listener);
    if (this.#last) listener(this.#last);
  }
}

export function encodeResize(size: TerminalSize): Buffer {
  return Buffer.from(`${JSON.stringify({ Width: size.width, Height: size.height })}\n`);
}

/**
 * The client's side of an exec or attach, as a transport presents it: what the client sends on
 * stdin, where the output goes, the terminal sizes it reports, and the end of the session.
 */
export interface RemoteCommandStreams {
  readonly protocol: string;
  /** Present when the client opened stdin. Ends when the client closes it. */
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /** Terminal sizes as the client reports them (TTY sessions). */
  onResize(listener: (size: TerminalSize) => void): void;
  /** Fires when the client goes away (or the session idles out) before finish(). */
  readonly disconnected: AbortSignal;
  /** Flushes stdout/stderr, writes the outcome on the error channel and closes the session. */
  finish(outcome: CommandOutcome): Promise<void>;
  /** Tears the session down without a status. */
  abort(): void;
}
