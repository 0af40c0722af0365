// The node's HTTP API on loopback, on the kubelet's paths: /healthz, /pods (a v1 PodList with live
// status, as the kubelet's read-only port serves it), /metrics (Prometheus text) and
// /containerLogs/{namespace}/{pod}/{container} (follow, tailLines, timestamps, previous,
// sinceSeconds), and /events (berth's own: the node's recent Events, for `berth describe pod`),
// /stats/summary (the Summary API), and exec, attach, portForward and run (node-streaming.ts).
// Hooks a provider lacks answer 501.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { isBerthError, toBerthError } from '../errors/errors.ts';
import type { Logger } from '../util/logger.ts';
import { Dashboard } from './dashboard.ts';
import type { KubeEvent, Pod, PodList } from './k8s-types.ts';
import { isStreamingPath, NodeStreaming } from './node-streaming.ts';
import type { ContainerLogOptions, NodeApiHandler } from './provider.ts';
import { NodeStatsReader, type Summary } from './stats-summary.ts';

export interface NodeApiOptions {
  pods: () => Pod[];
  /** For /stats/summary; default: the host name. */
  nodeName?: string;
  /** The node's metrics in the Prometheus text format. */
  metrics?: () => string;
  /** The node's recent Events (a berth addition at /events, for `berth describe pod`): a v1 EventList. */
  events?: (filter: { namespace?: string; name?: string; uid?: string }) => KubeEvent[];
  provider: NodeApiHandler;
  logger: Logger;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The node dashboard under /dashboard/. */
  dashboard?: Dashboard;
}

export interface NodeApiServer {
  readonly port: number;
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
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer`);
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

export async function startNodeApi(options: NodeApiOptions): Promise<NodeApiServer> {
  const streaming = new NodeStreaming({
    pods: options.pods,
    provider: options.provider,
    logger: options.logger,
    idleTimeoutMs: 4 * 3600_000,
  });
  const stats = new NodeStatsReader();
  const server = createServer((req, res) => {
    handle(options, streaming, stats, req, res).catch((e: unknown) => {
      const error = toBerthError(e);
      if (!isBerthError(e)) options.logger.error({ err: e, url: req.url }, 'node API request failed');
      if (!res.headersSent) sendText(res, STATUS_FOR_KIND[error.kind] ?? 500, `${error.message}\n`);
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    try {
      streaming.upgrade(req, socket, head);
    } catch (e) {
      options.logger.error({ err: e, url: req.url }, 'node API upgrade failed');
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  options.logger.info({ address: `${options.host ?? '127.0.0.1'}:${port}` }, 'node API listening');
  return {
    port,
    get streamingSessions() {
      return streaming.activeSessions;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await streaming.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
