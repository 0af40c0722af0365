// The node's HTTP API on the kubelet's paths: /healthz, /pods (a v1 PodList with live status),
// /metrics (Prometheus text) and /containerLogs/{namespace}/{pod}/{container} (follow, tailLines,
// timestamps, previous, sinceSeconds), and /events (berth's own: the node's recent Events, for
// `berth describe pod`), /stats/summary (the Summary API), and exec, attach, portForward and run
// (node-streaming.ts). Hooks a provider lacks answer 501.
// It listens as the kubelet does: an HTTPS port where every request is authenticated and authorized
// (node-api-auth.ts), an optional read-only port with /pods, /healthz, /metrics and /stats/summary
// only, and (berth's own) a unix socket that only root can open, for the CLI on the node.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { invalidArgument, isBerthError, toBerthError } from '../errors/errors.ts';
import type { Logger } from '../util/logger.ts';
import { Dashboard } from './dashboard.ts';
import type { KubeEvent, Pod, PodList } from './k8s-types.ts';
import { isReadOnlyPath, type NodeApiAccess, type NodeApiDecision, requestAttributes } from './node-api-auth.ts';
import { isStreamingPath, NodeStreaming } from './node-streaming.ts';
import type { ContainerLogOptions, NodeApiHandler } from './provider.ts';
import { renderResourceMetrics } from './resource-metrics.ts';
import { NodeStatsReader, type Summary } from './stats-summary.ts';

export interface NodeApiOptions {
  pods: () => Pod[];
  /** For /stats/summary; default: the host name. */
  nodeName?: string;
  /** The node's metrics in the Prometheus text format. */
  metrics?: () => string;
  /** /metrics/probes: the prober's counts. */
  probeMetrics?: () => string;
  /** The node's recent Events (a berth addition at /events, for `berth describe pod`): a v1 EventList. */
  events?: (filter: { namespace?: string; name?: string; uid?: string }) => KubeEvent[];
  provider: NodeApiHandler;
  logger: Logger;
  listeners: NodeApiListener[];
  /** The node dashboard under /dashboard/ (not on the read-only port). */
  dashboard?: Dashboard;
}

export interface NodeApiListener {
  /** A TCP port; 0 picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A unix socket in place of a port, made mode 0600 (root only). */
  socketPath?: string;
  /** HTTPS with this serving certificate; with `clientCA`, callers are asked for certificates it signed. */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCA?: string | Buffer };
  /** `read-only`: the kubelet's read-only port (its paths only, nobody asked); else who may call. */
  access: 'read-only' | NodeApiAccess;
}

export interface NodeApiServer {
  /** The port of the first TCP listener (0 when there is none). */
  readonly port: number;
  /** Each listener's port or socket, in the order given. */
  readonly listening: { port?: number; socketPath?: string }[];
  /** Exec, attach and port-forward sessions open now. */
  readonly streamingSessions: number;
  close(): Promise<void>;
}

const STATUS_FOR_KIND: Record<string, number> = {
  'not-found': 404,
  'invalid-argument': 400,
  unimplemented: 501,
  'failed-precondition': 400,
  'deadline-exceeded': 504,
  unavailable: 503,
};

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function logOptions(query: URLSearchParams): ContainerLogOptions {
  const flag = (name: string) => query.get(name) === 'true' || query.get(name) === '1';
  const count = (name: string) => {
    const value = query.get(name);
    if (value === null) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw invalidArgument('bad-log-option', `${name} must be a non-negative integer`);
    return n;
  };
  return {
    follow: flag('follow'),
    timestamps: flag('timestamps'),
    previous: flag('previous'),
    tailLines: count('tailLines'),
    sinceSeconds: count('sinceSeconds'),
    limitBytes: count('limitBytes'),
  };
}

async function containerLogs(
  options: NodeApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  query: URLSearchParams,
): Promise<void> {
  const [namespace, pod, container] = parts.map(decodeURIComponent);
  if (options.provider.getContainerLogs === undefined) return sendText(res, 501, 'the provider does not serve container logs\n');
  let logOpts: ContainerLogOptions;
  try {
    logOpts = logOptions(query);
  } catch (e) {
    return sendText(res, 400, `${(e as Error).message}\n`);
  }
  const controller = new AbortController();
  req.on('close', () => controller.abort());
  res.on('close', () => controller.abort());
  const chunks = await options.provider.getContainerLogs(namespace!, pod!, container!, logOpts, controller.signal);
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' });
  for await (const chunk of chunks) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

function sendMetrics(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The kubelet's /metrics/resource; scrape_error 1 when the provider's figures could not be read. */
async function resourceMetrics(options: NodeApiOptions, stats: NodeStatsReader, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const node = await stats.read(options.nodeName ?? hostname());
  const pods = options.provider.getStatsSummary
    ? await options.provider.getStatsSummary(controller.signal).catch((e: unknown) => {
        options.logger.warn({ err: e }, 'reading pod stats for /metrics/resource failed');
        return undefined;
      })
    : [];
  if (req.method === 'HEAD') return void res.writeHead(200).end();
  sendMetrics(res, renderResourceMetrics(node, pods));
}

async function statsSummary(options: NodeApiOptions, stats: NodeStatsReader, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const summary: Summary = {
    node: await stats.read(options.nodeName ?? hostname()),
    pods: (await options.provider.getStatsSummary?.(controller.signal)) ?? [],
  };
  if (req.method === 'HEAD') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end();
  sendJson(res, summary);
}

async function handle(
  options: NodeApiOptions,
  streaming: NodeStreaming,
  stats: NodeStatsReader,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://node');
  if (isStreamingPath(url.pathname)) return streaming.request(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
  if (url.pathname === '/healthz') return sendText(res, 200, 'ok');
  if (options.dashboard && Dashboard.handles(url.pathname)) return options.dashboard.request(req, res, url.pathname);
  if (url.pathname === '/pods' || url.pathname === '/pods/') {
    const list: PodList = { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: options.pods() };
    return sendJson(res, list);
  }
  if (url.pathname === '/events' && options.events !== undefined) {
    const q = url.searchParams;
    const filter = Object.fromEntries(['namespace', 'name', 'uid'].flatMap((k) => (q.has(k) ? [[k, q.get(k)!]] : [])));
    return sendJson(res, { apiVersion: 'v1', kind: 'EventList', metadata: {}, items: options.events(filter) });
  }
  if (url.pathname === '/metrics/resource') return resourceMetrics(options, stats, req, res);
  if (url.pathname === '/metrics/probes' && options.probeMetrics !== undefined) return sendMetrics(res, options.probeMetrics());
  if (url.pathname === '/metrics' && options.metrics !== undefined) {
    const text = options.metrics();
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    return void res.end(text);
  }
  if (url.pathname === '/stats/summary' || url.pathname === '/stats/summary/') return statsSummary(options, stats, req, res);
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === 'containerLogs' && parts.length === 4) return containerLogs(options, req, res, parts.slice(1), url.searchParams);
  return sendText(res, 404, '404 page not found\n');
}

/** A refusal written before any handler runs: on a response, or on the socket of an upgrade. */
function refuse(target: ServerResponse | Duplex, status: number, text: string): void {
  if ('writeHead' in target) {
    sendText(target, status, text);
    return;
  }
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[status] ?? 'Error';
  target.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** Whether the listener lets this request through; when not, the refusal has been written. */
async function admit(
  listener: NodeApiListener,
  nodeName: string,
  logger: Logger,
  req: IncomingMessage,
  target: ServerResponse | Duplex,
): Promise<boolean> {
  const pathname = new URL(req.url ?? '/', 'http://node').pathname;
  if (listener.access === 'read-only') {
    if (isReadOnlyPath(pathname)) return true;
    refuse(target, 404, '404 page not found\n');
    return false;
  }
  // A credential that does not check out (an invalid token) is refused as none would be, as the kubelet does.
  const user = await listener.access.authenticator.authenticate(req).catch((e: unknown) => {
    if (isBerthError(e, 'unauthenticated')) return undefined;
    throw e;
  });
  if (user === undefined) {
    refuse(target, 401, 'Unauthorized\n');
    return false;
  }
  const attributes = requestAttributes(user, req.method ?? 'GET', pathname, nodeName);
  const { verb, resource, subresource } = attributes;
  let decision: NodeApiDecision;
  try {
    decision = await listener.access.authorizer.authorize(attributes);
  } catch (e) {
    logger.warn({ err: e, user: user.name, verb, subresource }, 'node API authorization failed');
    refuse(target, 500, `Authorization error (user=${user.name}, verb=${verb}, resource=${resource}, subresource=${subresource})\n`);
    return false;
  }
  if (decision.allowed) return true;
  refuse(
    target,
    403,
    `Forbidden (user=${user.name}, verb=${verb}, resource=${resource}, subresource=${subresource})${decision.reason ? `: ${decision.reason}` : ''}\n`,
  );
  return false;
}

async function listen(server: Server, listener: NodeApiListener): Promise<{ port?: number; socketPath?: string }> {
  const socketPath = listener.socketPath;
  if (socketPath !== undefined) {
    await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    // A socket a killed node left behind; anything else there is not ours to remove.
    const stale = await lstat(socketPath).catch(() => undefined);
    if (stale?.isSocket()) await unlink(socketPath);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (socketPath !== undefined) server.listen(socketPath, () => resolve());
    else server.listen(listener.port ?? 0, listener.host ?? '127.0.0.1', () => resolve());
  });
  if (socketPath === undefined) return { port: (server.address() as AddressInfo).port };
  // The umask already keeps others out (connecting needs write permission); this makes it certain.
  await chmod(socketPath, 0o600);
  return { socketPath };
}

export async function startNodeApi(options: NodeApiOptions): Promise<NodeApiServer> {
  const streaming = new NodeStreaming({
    pods: options.pods,
    provider: options.provider,
    logger: options.logger,
    idleTimeoutMs: 4 * 3600_000,
  });
  const stats = new NodeStatsReader();
  const nodeName = options.nodeName ?? hostname();
  const servers: Server[] = [];
  const listening: { port?: number; socketPath?: string }[] = [];
  const close = async (): Promise<void> => {
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    await streaming.close();
    for (const server of servers) server.closeAllConnections();
    await Promise.all(closed);
    for (const l of listening) if (l.socketPath !== undefined) await unlink(l.socketPath).catch(() => {});
  };
  try {
    for (const listener of options.listeners) {
      const serve = (req: IncomingMessage, res: ServerResponse) => {
        admit(listener, nodeName, options.logger, req, res)
          .then((admitted) => (admitted ? handle(options, streaming, stats, req, res) : undefined))
          .catch((e: unknown) => {
            const error = toBerthError(e);
            if (!isBerthError(e)) options.logger.error({ err: e, url: req.url }, 'node API request failed');
            if (!res.headersSent) sendText(res, STATUS_FOR_KIND[error.kind] ?? 500, `${error.message}\n`);
            else res.destroy();
          });
      };
      const tls = listener.tls;
      const server = tls
        ? createHttpsServer(
            // Certificates are asked for, not required: a caller without one may still be someone (anonymous, a token).
            { cert: tls.cert, key: tls.key, ...(tls.clientCA ? { ca: tls.clientCA, requestCert: true } : {}), rejectUnauthorized: false },
            serve,
          )
        : createServer(serve);
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        admit(listener, nodeName, options.logger, req, socket)
          .then((admitted) => {
            if (admitted) streaming.upgrade(req, socket, head);
          })
          .catch((e: unknown) => {
            options.logger.error({ err: e, url: req.url }, 'node API upgrade failed');
            socket.destroy();
          });
      });
      servers.push(server);
      const address = await listen(server, listener);
      listening.push(address);
      options.logger.info(
        {
          address: address.socketPath ?? `${listener.host ?? '127.0.0.1'}:${address.port}`,
          tls: tls !== undefined,
          readOnly: listener.access === 'read-only',
        },
        'node API listening',
      );
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    port: listening.find((l) => l.port !== undefined)?.port ?? 0,
    listening,
    get streamingSessions() {
      return streaming.activeSessions;
    },
    close,
  };
}
