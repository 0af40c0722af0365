// The streaming server behind Exec, Attach and PortForward, as the kubelet's (and containerd's,
// CRI-O's) streaming server works: the RPC stores the request under a single-use token and
// answers with `<base>/exec/<token>`, `/attach/<token>` or `/portforward/<token>`; the client
// upgrades that URL to SPDY/3.1 or to a WebSocket and streams. Plain HTTP or TLS, on the address
// and port of the config (loopback by default).

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { resourceExhausted } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import { servePortForwardSpdy } from '../port-forward/port-forward-spdy.ts';
import { parsePortQuery, servePortForwardWs, WS_PORT_FORWARD_PROTOCOLS } from '../port-forward/port-forward-ws.ts';
import {
  PORT_FORWARD_PROTOCOL,
  type RemoteCommandStreams,
  SPDY_REMOTE_COMMAND_PROTOCOLS,
  STREAM_CREATION_TIMEOUT_MS,
} from '../remote-command.ts';
import { acceptRemoteCommandSpdy, type StreamWants } from '../remote-command-spdy.ts';
import { runRemoteCommand } from '../run-remote-command.ts';
import { SpdySession } from '../spdy/spdy-session.ts';
import { headerList, httpError, isSpdy, isWebSocket, spdyProtocolOrRefuse, switchToSpdy, wsProtocolOrRefuse } from '../upgrade-accept.ts';
import { acceptRemoteCommandWs, WS_REMOTE_COMMAND_PROTOCOLS } from '../websocket/remote-command-ws.ts';
import { closeOnUnreadPongs } from '../websocket/ws-flood-guard.ts';
import { dialerForwarder } from './port-dialer.ts';
import type { StreamBackend } from './stream-backend.ts';
import type { AttachStreamRequest, ExecStreamRequest, PortForwardStreamRequest, StreamRequest } from './stream-requests.ts';
import { TokenStore } from './token-store.ts';

export interface StreamingServerOptions {
  /** Address to listen on; the URLs carry it (an unspecified address becomes loopback in URLs). */
  address: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM files; both or neither. With them the server speaks HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** A session with no traffic either way for this long is closed; 0: never. The kubelet's default is 4 h. */
  idleTimeoutMs: number;
  /** Unused tokens expire after this long. The kubelet's default is 1 min. */
  tokenTtlMs: number;
  /** Sessions served at once; an upgrade beyond them is refused with 429. Default 256. */
  maxSessions?: number;
  /** Unread bytes a SPDY session holds for its client before it stops reading from it. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** How long a SPDY client may take to open the streams it needs. Default 30 s. */
  streamCreationTimeoutMs?: number;
  backend: StreamBackend;
  logger: Logger;
}

interface Session {
  kind: StreamRequest['kind'];
  /** Ends the session at once (daemon shutdown). */
  stop(): void;
  done: Promise<unknown>;
}

/** How long a TTY exec waits for the client's terminal size before it starts without one. */
const INITIAL_SIZE_WAIT_MS = 300;

const DEFAULT_MAX_SESSIONS = 256;
const DEFAULT_MAX_BUFFERED = 1024 * 1024;

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)\/?$/;

export class StreamingServer {
  readonly #o: StreamingServerOptions;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #tokens: TokenStore<StreamRequest>;
  readonly #sessions = new Set<Session>();
  readonly #sockets = new Set<Socket>();
  readonly #log: Logger;
  readonly #wsProtocols = new WeakMap<http.IncomingMessage, string>();
  #baseUrl = '';
  #closing = false;

  private constructor(options: StreamingServerOptions, server: http.Server) {
    this.#o = options;
    this.#server = server;
    this.#log = options.logger.child({ component: 'streaming' });
    this.#tokens = new TokenStore({ ttlMs: options.tokenTtlMs });
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      // The subprotocol was chosen before the upgrade (see #upgradeWebSocket).
      handleProtocols: (_offers, req) => this.#wsProtocols.get(req) || false,
    });
    server.on('request', (req, res) => this.#onRequest(req, res));
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('clientError', (_err, socket) => {
      if (socket.writable) httpError(socket, 400, 'bad request');
      else socket.destroy();
    });
  }

  static async start(options: StreamingServerOptions): Promise<StreamingServer> {
    const tls = Boolean(options.tlsCert && options.tlsKey);
    const server = tls
      ? https.createServer({ cert: await readFile(options.tlsCert!), key: await readFile(options.tlsKey!) })
      : http.createServer();
    await options.backend.prepare?.();
    const s = new StreamingServer(options, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    let host = addr.address;
    if (host === '0.0.0.0') host = '127.0.0.1';
    if (host === '::') host = '::1';
    if (host.includes(':')) host = `[${host}]`;
    s.#baseUrl = `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
    s.#log.info({ url: s.#baseUrl }, 'streaming server listening');
    return s;
  }

  /** `http(s)://host:port` of the running server. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** The URL for an Exec request (already validated). */
  execUrl(request: ExecStreamRequest): string {
    return `${this.#baseUrl}/exec/${this.#tokens.insert(request)}`;
  }

  attachUrl(request: AttachStreamRequest): string {
    return `${this.#baseUrl}/attach/${this.#tokens.insert(request)}`;
  }

  portForwardUrl(request: PortForwardStreamRequest): string {
    return `${this.#baseUrl}/portforward/${this.#tokens.insert(request)}`;
  }

  /** Stops listening, ends every session (processes are killed, relays stopped) and waits for their cleanup. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sessions) s.stop();
    await Promise.race([Promise.allSettled([...this.#sessions].map((s) => s.done)), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const socket of this.#sockets) socket.destroy();
    this.#wss.close();
    this.#tokens.clear();
    await closed;
  }

  // ------------------------------------------------------------------ routing

  /** Consumes the token of a request; writes the HTTP error itself and returns undefined when it does not fit. */
  #take(req: http.IncomingMessage, reply: (status: number, message: string) => void): StreamRequest | undefined {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://streaming.invalid');
    const m = ROUTE.exec(url.pathname);
    if (!m) {
      reply(404, '404 page not found');
      return undefined;
    }
    if (method !== 'GET' && method !== 'POST') {
      reply(405, `method ${method} not allowed`);
      return undefined;
    }
    const taken = this.#tokens.consume(m[2]!);
    if (!taken.ok) {
      this.#log.debug({ path: url.pathname, reason: taken.reason }, 'streaming request with an unusable token');
      reply(404, taken.reason === 'expired' ? '404 page not found: the streaming token has expired' : '404 page not found');
      return undefined;
    }
    if (taken.value.kind !== m[1]) {
      reply(404, '404 page not found');
      return undefined;
    }
    return taken.value;
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const reply = (status: number, message: string): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(`${message}\n`);
    };
    // Without an upgrade there is nothing to stream; the token is spent all the same (as the kubelet does).
    if (this.#take(req, reply) === undefined) return;
    reply(400, 'unable to upgrade: missing upgrade headers in request');
  }

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    if (this.#closing) {
      httpError(socket, 503, 'the streaming server is shutting down');
      return;
    }
    // Refused before the token is spent: the client may retry with the same URL.
    const maxSessions = this.#o.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (this.#sessions.size >= maxSessions) {
      const e = resourceExhausted('too-many-streaming-sessions', `too many streaming sessions (${maxSessions}); try again later`);
      this.#log.warn({ sessions: this.#sessions.size }, e.message);
      httpError(socket, 429, e.message);
      return;
    }
    const request = this.#take(req, (status, message) => httpError(socket, status, message));
    if (!request) return;
    const id = randomBytes(4).toString('hex');
    const log = this.#log.child({
      session: id,
      kind: request.kind,
      ...(request.kind === 'portforward' ? { pod: request.podSandboxId } : { container: request.containerId }),
    });
    if (isWebSocket(req)) {
      this.#upgradeWebSocket(req, socket, head, request, log);
      return;
    }
    if (isSpdy(req)) {
      this.#upgradeSpdy(req, socket, head, request, log);
      return;
    }
    httpError(socket, 400, `unable to upgrade: unsupported upgrade "${req.headers.upgrade ?? ''}" (SPDY/3.1 or websocket)`);
  }

  #track(kind: StreamRequest['kind'], stop: () => void, work: Promise<unknown>): void {
    const session: Session = { kind, stop, done: work };
    this.#sessions.add(session);
    void work.finally(() => this.#sessions.delete(session));
  }

  // ------------------------------------------------------------------ SPDY

  #upgradeSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest, log: Logger): void {
    const serverProtocols: readonly string[] = request.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const offers = headerList(req, 'x-stream-protocol-version');
    if (offers.length === 0) {
      httpError(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
      return;
    }
    const protocol = spdyProtocolOrRefuse(socket, offers, serverProtocols);
    if (protocol === undefined) return;
    switchToSpdy(socket, head, protocol);
    const session = new SpdySession(socket, {
      role: 'server',
      idleTimeoutMs: this.#o.idleTimeoutMs,
      maxBufferedBytes: this.#o.maxBufferedBytes,
    });
    session.on('timeout', () => log.info('streaming session idle; closed'));
    log.debug({ protocol }, 'SPDY session upgraded');

    if (request.kind === 'portforward') {
      let dialer: ReturnType<StreamBackend['portDialer']>;
      try {
        dialer = this.#o.backend.portDialer(request.podSandboxId);
      } catch (e) {
        log.warn({ err: e }, 'cannot forward ports of the pod');
        session.destroy();
        return;
      }
      const forward = dialerForwarder(dialer, request.podSandboxId);
      const work = servePortForwardSpdy(session, forward, log, this.#streamCreationTimeout()).then(() => dialer.close());
      this.#track('portforward', () => session.destroy(), work);
      return;
    }
    const wants = this.#wants(request);
    const work = (async () => {
      let streams: RemoteCommandStreams;
      try {
        streams = await acceptRemoteCommandSpdy(session, protocol, wants, this.#streamCreationTimeout());
      } catch (e) {
        log.info({ err: (e as Error).message }, 'streaming session failed to start');
        session.destroy();
        return;
      }
      await this.#runCommand(request, streams, log);
    })();
    this.#track(request.kind, () => session.destroy(), work);
  }

  #streamCreationTimeout(): number {
    return this.#o.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS;
  }

  #wants(request: ExecStreamRequest | AttachStreamRequest): StreamWants {
    return { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr && !request.tty, tty: request.tty };
  }

  async #runCommand(request: ExecStreamRequest | AttachStreamRequest, streams: RemoteCommandStreams, log: Logger): Promise<void> {
    const started = performance.now();
    const outcome = await runRemoteCommand(
      streams,
      (size) => (request.kind === 'exec' ? this.#o.backend.startExec(request, size) : this.#o.backend.startAttach(request)),
      log,
      { awaitSizeMs: request.kind === 'exec' && request.tty ? INITIAL_SIZE_WAIT_MS : 0 },
    ).catch((e: unknown) => {
      log.warn({ err: e }, 'streaming session failed');
      streams.abort();
      return undefined;
    });
    log.debug({ outcome: outcome ?? 'client gone', ms: Math.round(performance.now() - started) }, 'streaming session over');
  }

  // ------------------------------------------------------------------ WebSocket

  #upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest, log: Logger): void {
    const protocol = wsProtocolOrRefuse(
      req,
      socket,
      request.kind === 'portforward' ? WS_PORT_FORWARD_PROTOCOLS : WS_REMOTE_COMMAND_PROTOCOLS,
    );
    if (protocol === undefined) return;
    let ports: number[] = [];
    if (request.kind === 'portforward') {
      const parsed = parsePortQuery(new URL(req.url ?? '/', 'http://streaming.invalid').searchParams.getAll('port'));
      if (typeof parsed === 'string') {
        httpError(socket, 400, parsed);
        return;
      }
      ports = parsed;
    }
    this.#wsProtocols.set(req, protocol);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      log.debug({ protocol }, 'WebSocket session upgraded');
      closeOnUnreadPongs(ws, this.#o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED);
      if (request.kind === 'portforward') {
        let dialer: ReturnType<StreamBackend['portDialer']>;
        try {
          dialer = this.#o.backend.portDialer(request.podSandboxId);
        } catch (e) {
          log.warn({ err: e }, 'cannot forward ports of the pod');
          ws.close(1011, 'cannot reach the pod');
          return;
        }
        const forward = dialerForwarder(dialer, request.podSandboxId);
        const work = servePortForwardWs(ws, protocol, ports, forward, this.#o.idleTimeoutMs, log).then(() => dialer.close());
        this.#track('portforward', () => ws.terminate(), work);
        return;
      }
      const work = (async () => {
        const streams = await acceptRemoteCommandWs(ws, protocol, this.#wants(request), this.#o.idleTimeoutMs);
        await this.#runCommand(request, streams, log);
      })();
      this.#track(request.kind, () => ws.terminate(), work);
    });
  }
}
