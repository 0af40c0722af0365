// Exec, attach, port-forward and run on the node API, on the kubelet's paths:
//   /exec/{namespace}/{pod}/{container}?command=…&input=1&output=1&error=1&tty=1   (stdin=, stdout=, stderr= too)
//   /attach/{namespace}/{pod}/{container}?…
//   /portForward/{namespace}/{pod}[?port=…]
//   /run/{namespace}/{pod}/{container}?cmd=…   (POST; the output, or 500 with it)
// The request is checked before the upgrade (400 bad options, 404 unknown pod or container, 400 a
// container that does not run, 501 a hook the provider lacks); then the connection is upgraded to
// SPDY/3.1 or a WebSocket with the same protocol code as the runtime's streaming server
// (src/streaming), and the session runs through the provider's hooks.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { failedPrecondition, internal, invalidArgument, isBerthError, notFound, unimplemented } from '../errors/errors.ts';
import type { ConnectionForwarder } from '../streaming/port-forward/forward.ts';
import { servePortForwardSpdy } from '../streaming/port-forward/port-forward-spdy.ts';
import { parsePortQuery, servePortForwardWs, WS_PORT_FORWARD_PROTOCOLS } from '../streaming/port-forward/port-forward-ws.ts';
import { PORT_FORWARD_PROTOCOL, type RemoteCommandStreams, SPDY_REMOTE_COMMAND_PROTOCOLS } from '../streaming/remote-command.ts';
import { acceptRemoteCommandSpdy } from '../streaming/remote-command-spdy.ts';
import { runRemoteCommand } from '../streaming/run-remote-command.ts';
import { SpdySession } from '../streaming/spdy/spdy-session.ts';
import {
  headerList,
  httpError,
  isSpdy,
  isWebSocket,
  spdyProtocolOrRefuse,
  switchToSpdy,
  wsProtocolOrRefuse,
} from '../streaming/upgrade-accept.ts';
import { acceptRemoteCommandWs, WS_REMOTE_COMMAND_PROTOCOLS } from '../streaming/websocket/remote-command-ws.ts';
import type { Logger } from '../util/logger.ts';
import { httpStatusFor } from './http-status.ts';
import type { Pod } from './k8s-types.ts';
import type { NodeApiHandler } from './provider.ts';
import { chunksOf, paced, providerStreamProcess, type WantedStreams } from './provider-stream-process.ts';

export interface NodeStreamingOptions {
  pods: () => Pod[];
  provider: NodeApiHandler;
  logger: Logger;
  /** A session with no traffic for this long is closed (the kubelet's default: 4 h). */
  idleTimeoutMs?: number;
  /** Sessions served at once; an upgrade beyond them is refused with 429. Default 256. */
  maxSessions?: number;
  /** Unread bytes a SPDY session holds for its client before it stops reading from it. Default 1 MiB. */
  maxBufferedBytes?: number;
}

type Kind = 'exec' | 'attach' | 'portForward';

interface Target {
  kind: Kind;
  pod: Pod;
  namespace: string;
  name: string;
  container: string;
}

/** How long a TTY exec waits for the client's first terminal size, so that the command starts with it. */
const INITIAL_SIZE_WAIT_MS = 300;
const ROUTES: Record<string, { kind: Kind | 'run'; parts: number }> = {
  exec: { kind: 'exec', parts: 3 },
  attach: { kind: 'attach', parts: 3 },
  portForward: { kind: 'portForward', parts: 2 },
  run: { kind: 'run', parts: 3 },
};

/** Whether the path is one of this module's. */
export function isStreamingPath(pathname: string): boolean {
  return pathname.split('/').filter(Boolean)[0]! in ROUTES;
}

function flag(query: URLSearchParams, ...names: string[]): boolean {
  return names.some((n) => query.get(n) === '1' || query.get(n) === 'true');
}

/** The streams asked for, as the kubelet reads them (the API server sends input/output/error; stdin/stdout/stderr are accepted too). */
export function streamOptions(query: URLSearchParams): WantedStreams {
  const tty = flag(query, 'tty');
  const stdin = flag(query, 'input', 'stdin');
  const stdout = flag(query, 'output', 'stdout');
  // A terminal has one output: stderr is dropped, as the kubelet does.
  const stderr = !tty && flag(query, 'error', 'stderr');
  if (!stdin && !stdout && !stderr) throw invalidArgument('bad-streaming-request', 'you must specify at least 1 of stdin, stdout, stderr');
  return { stdin, stdout, stderr, tty };
}

function containerNames(pod: Pod): string[] {
  return [
    ...(pod.spec.initContainers ?? []),
    ...pod.spec.containers,
    ...((pod.spec as { ephemeralContainers?: { name: string }[] }).ephemeralContainers ?? []),
  ].map((c) => c.name);
}

function isRunning(pod: Pod, container: string): boolean {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.some((s) => s.name === container && s.state?.running !== undefined);
}

export class NodeStreaming {
  readonly #o: NodeStreamingOptions;
  readonly #log: Logger;
  readonly #wss: WebSocketServer;
  readonly #wsProtocols = new WeakMap<http.IncomingMessage, string>();
  readonly #sessions = new Map<Promise<unknown>, () => void>();
  readonly #sockets = new Set<Duplex>();
  #closing = false;

  constructor(options: NodeStreamingOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'node-streaming' });
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      handleProtocols: (_offers, req) => this.#wsProtocols.get(req) || false,
    });
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Ends every session and waits (a while) for their cleanup. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const stop of this.#sessions.values()) stop();
    await Promise.race([Promise.allSettled([...this.#sessions.keys()]), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const socket of this.#sockets) socket.destroy();
    this.#wss.close();
  }

  /** Checks a request's path, pod and container; throws a BerthError when they do not fit. */
  #target(pathname: string): Target {
    const [route, ...rest] = pathname.split('/').filter(Boolean);
    const r = ROUTES[route!]!;
    // The kubelet's paths may carry the pod's UID before the container: /exec/{namespace}/{pod}/{uid}/{container}.
    if ((rest.length !== r.parts && rest.length !== r.parts + 1) || r.kind === 'run')
      throw notFound('streaming-path-not-found', '404 page not found');
    let decoded: string[];
    try {
      decoded = rest.map(decodeURIComponent);
    } catch {
      throw invalidArgument('bad-streaming-request', `malformed path ${pathname}`);
    }
    const uid = decoded.length > r.parts ? decoded.splice(2, 1)[0] : undefined;
    const [namespace, name, container = ''] = decoded as [string, string, string?];
    const pod = this.#o.pods().find((p) => (p.metadata.namespace ?? 'default') === namespace && p.metadata.name === name);
    if (pod === undefined) throw notFound('pod-not-found', 'pod does not exist');
    if (uid !== undefined && uid !== pod.metadata.uid) throw notFound('pod-not-found', 'pod not found');
    if (r.kind !== 'portForward') {
      if (!containerNames(pod).includes(container)) throw notFound('streaming-container-not-found', `container not found ("${container}")`);
      if (!isRunning(pod, container)) {
        throw failedPrecondition('streaming-container-not-running', `container "${container}" in pod "${name}" is not running`);
      }
    }
    const hook = { exec: 'runInContainer', attach: 'attachToContainer', portForward: 'portForward' } as const;
    if (this.#o.provider[hook[r.kind]] === undefined) throw unimplemented('streaming-unsupported', `the provider does not serve ${r.kind}`);
    return { kind: r.kind, pod, namespace, name, container };
  }

  /** A plain request (no upgrade) on a streaming path; /run is served, the others refused. */
  async request(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://node');
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const parts = url.pathname.split('/').filter(Boolean);
    try {
      if (parts[0] === 'run') {
        if (req.method !== 'POST') return reply(405, 'method not allowed\n');
        return await this.#run(parts.slice(1), url.searchParams, res);
      }
      if (req.method !== 'GET' && req.method !== 'POST') return reply(405, 'method not allowed\n');
      this.#target(url.pathname);
      if (parts[0] !== 'portForward') streamOptions(url.searchParams);
      reply(400, 'unable to upgrade: missing upgrade headers in request\n');
    } catch (e) {
      if (!isBerthError(e)) throw e;
      reply(httpStatusFor(e.kind), `${e.message}\n`);
    }
  }

  async #run(parts: string[], query: URLSearchParams, res: http.ServerResponse): Promise<void> {
    const target = this.#target(`/exec/${parts.join('/')}`);
    const cmd = (query.get('cmd') ?? '').split(' ');
    if (query.get('cmd') === null || query.get('cmd') === '')
      throw invalidArgument('bad-streaming-request', 'you must specify a command (cmd=)');
    const controller = new AbortController();
    // The response closes before it is written only when the client went away.
    res.on('close', () => controller.abort());
    const output: Uint8Array[] = [];
    const keep = (chunk: Uint8Array) => void output.push(chunk);
    let text: string;
    let code: number;
    try {
      ({ exitCode: code } = await this.#o.provider.runInContainer!(
        target.namespace,
        target.name,
        target.container,
        cmd,
        { stdout: keep, stderr: keep },
        controller.signal,
      ));
      text = Buffer.concat(output).toString('utf8');
    } catch (e) {
      throw internal('run-failed', (e as Error).message, { cause: e });
    }
    if (code !== 0) throw internal('run-failed', `command '${cmd.join(' ')}' exited with ${code}: ${text}`);
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** An upgrade request (the http server's 'upgrade' event). */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    if (this.#closing) {
      httpError(socket, 503, 'the node is shutting down');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://node');
    if (!isStreamingPath(url.pathname)) {
      httpError(socket, 404, '404 page not found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      httpError(socket, 405, `method ${req.method} not allowed`);
      return;
    }
    const maxSessions = this.#o.maxSessions ?? 256;
    if (this.#sessions.size >= maxSessions) {
      httpError(socket, 429, `too many streaming sessions (${maxSessions}); try again later`);
      return;
    }
    let target: Target;
    let wants: WantedStreams | undefined;
    let ports: number[] = [];
    try {
      if (url.pathname.split('/').filter(Boolean)[0] === 'run') throw invalidArgument('bad-streaming-request', '/run does not upgrade');
      target = this.#target(url.pathname);
      if (target.kind !== 'portForward') wants = streamOptions(url.searchParams);
      if (target.kind === 'exec' && url.searchParams.getAll('command').length === 0) {
        throw invalidArgument('bad-streaming-request', 'you must specify at least one command for the container');
      }
      if (target.kind === 'portForward' && isWebSocket(req)) {
        const parsed = parsePortQuery(url.searchParams.getAll('port'));
        if (typeof parsed === 'string') throw invalidArgument('bad-streaming-request', parsed);
        ports = parsed;
      }
    } catch (e) {
      if (!isBerthError(e)) throw e;
      httpError(socket, httpStatusFor(e.kind), e.message);
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const log = this.#log.child({ kind: target.kind, pod: `${target.namespace}/${target.name}`, container: target.container || undefined });
    if (isSpdy(req)) {
      this.#upgradeSpdy(req, socket, head, target, wants, url.searchParams, log);
      return;
    }
    if (isWebSocket(req)) {
      this.#upgradeWebSocket(req, socket, head, target, wants, url.searchParams, ports, log);
      return;
    }
    httpError(socket, 400, `unable to upgrade: unsupported upgrade "${req.headers.upgrade ?? ''}" (SPDY/3.1 or websocket)`);
  }

  #track(stop: () => void, work: Promise<unknown>): void {
    this.#sessions.set(work, stop);
    void work.finally(() => this.#sessions.delete(work));
  }

  #upgradeSpdy(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: Target,
    wants: WantedStreams | undefined,
    query: URLSearchParams,
    log: Logger,
  ): void {
    const serverProtocols: readonly string[] = target.kind === 'portForward' ? [PORT_FORWARD_PROTOCOL] : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const offers = headerList(req, 'x-stream-protocol-version');
    // Without an offer the kubelet falls back to the first remotecommand protocol.
    const protocol =
      offers.length === 0
        ? target.kind === 'portForward'
          ? PORT_FORWARD_PROTOCOL
          : 'channel.k8s.io'
        : spdyProtocolOrRefuse(socket, offers, serverProtocols);
    if (protocol === undefined) return;
    switchToSpdy(socket, head, protocol);
    const session = new SpdySession(socket, {
      role: 'server',
      idleTimeoutMs: this.#o.idleTimeoutMs ?? 0,
      maxBufferedBytes: this.#o.maxBufferedBytes,
    });
    if (target.kind === 'portForward') {
      this.#track(() => session.destroy(), servePortForwardSpdy(session, this.#forwarder(target), log));
      return;
    }
    const work = (async () => {
      let streams: RemoteCommandStreams;
      try {
        streams = await acceptRemoteCommandSpdy(session, protocol, wants!);
      } catch (e) {
        log.info({ err: (e as Error).message }, 'streaming session failed to start');
        session.destroy();
        return;
      }
      await this.#runCommand(target, wants!, query, streams, log);
    })();
    this.#track(() => session.destroy(), work);
  }

  #upgradeWebSocket(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: Target,
    wants: WantedStreams | undefined,
    query: URLSearchParams,
    ports: number[],
    log: Logger,
  ): void {
    const protocol = wsProtocolOrRefuse(
      req,
      socket,
      target.kind === 'portForward' ? WS_PORT_FORWARD_PROTOCOLS : WS_REMOTE_COMMAND_PROTOCOLS,
    );
    if (protocol === undefined) return;
    this.#wsProtocols.set(req, protocol);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const idle = this.#o.idleTimeoutMs ?? 0;
      if (target.kind === 'portForward') {
        this.#track(() => ws.terminate(), servePortForwardWs(ws, protocol, ports, this.#forwarder(target), idle, log));
        return;
      }
      const work = (async () => {
        const streams = await acceptRemoteCommandWs(ws, protocol, { ...wants!, stderr: wants!.stderr && !wants!.tty }, idle);
        await this.#runCommand(target, wants!, query, streams, log);
      })();
      this.#track(() => ws.terminate(), work);
    });
  }

  async #runCommand(
    target: Target,
    wants: WantedStreams,
    query: URLSearchParams,
    streams: RemoteCommandStreams,
    log: Logger,
  ): Promise<void> {
    const provider = this.#o.provider;
    const { namespace, name, container } = target;
    const command = query.getAll('command');
    await runRemoteCommand(
      streams,
      async (size) =>
        providerStreamProcess(wants, size, async (io, signal) => {
          if (target.kind === 'exec') return (await provider.runInContainer!(namespace, name, container, command, io, signal)).exitCode;
          await provider.attachToContainer!(namespace, name, container, io, signal);
          return undefined;
        }),
      log,
      { awaitSizeMs: target.kind === 'exec' && wants.tty ? INITIAL_SIZE_WAIT_MS : 0 },
    ).catch((e: unknown) => {
      log.warn({ err: e }, 'streaming session failed');
      streams.abort();
    });
  }

  /** Each forwarded connection through the provider's portForward hook. */
  #forwarder(target: Target): ConnectionForwarder {
    const provider = this.#o.provider;
    const uid = target.pod.metadata.uid ?? '';
    return async (port, client, signal) => {
      const controller = new AbortController();
      const abort = () => controller.abort();
      signal.addEventListener('abort', abort, { once: true });
      client.once('close', abort);
      try {
        await provider.portForward!(
          target.namespace,
          target.name,
          port,
          { readable: chunksOf(client), write: paced(client) },
          controller.signal,
        );
      } catch (e) {
        if (signal.aborted) return;
        throw internal(
          'port-forward-failed',
          `error forwarding port ${port} to pod ${target.namespace}/${target.name}, uid ${uid}: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      } finally {
        signal.removeEventListener('abort', abort);
        client.off('close', abort);
      }
      if (!client.destroyed && !client.writableEnded) client.end();
    };
  }
}
