// The node dashboard: a web page served by the node API under /dashboard/ (the page itself is built
// from web/ by the set-up into web/dist), its state as JSON, and live updates as server-sent
// events. The node keeps the last minutes of CPU and memory per pod and container, so that a page
// opened now has charts at once. Logs come from the node API's own /containerLogs path.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../util/logger.ts';
import { hostInfo } from './apiserver/host-info.ts';
import type { KubeEvent, Pod } from './k8s-types.ts';
import type { NodeStatusProvider, ProviderNodeStatus } from './provider.ts';
import type { PodStats } from './stats-summary.ts';

export const DASHBOARD_PATH = '/dashboard';

export interface DashboardOptions {
  nodeName: string;
  pods: () => Pod[];
  events?: (filter: { namespace?: string; name?: string; uid?: string }) => KubeEvent[];
  stats?: (signal: AbortSignal) => Promise<PodStats[]>;
  nodeStatus?: NodeStatusProvider['nodeStatus'];
  /** The built page (index.html and assets/). */
  assetsDir: string;
  logger: Logger;
  /** How often stats are sampled and pages updated. Default 5 s. */
  sampleEveryMs?: number;
  /** Samples kept per series. Default 120 (10 minutes at 5 s). */
  keepSamples?: number;
}

/** One point of a chart: when, CPU in millicores, memory working set in bytes. */
export type Sample = [atMs: number, cpuMillicores: number | null, memoryBytes: number | null];

export interface DashboardNode {
  name: string;
  ready: boolean;
  message?: string;
  runtimeVersion?: string;
  runtimeHandlers: { name: string; features: string[] }[];
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  systemInfo: Record<string, string>;
  memoryAvailableBytes: number;
}

export interface DashboardState {
  node: DashboardNode;
  pods: Pod[];
  events: KubeEvent[];
  /** By pod UID, then `''` for the pod and the container name for each container. */
  series: Record<string, Record<string, Sample[]>>;
  sampledAt: number;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export class Dashboard {
  readonly #options: DashboardOptions;
  readonly #series = new Map<string, Map<string, Sample[]>>();
  readonly #clients = new Set<ServerResponse>();
  readonly #closing = new AbortController();
  #node: DashboardNode;
  #sampledAt = 0;

  constructor(options: DashboardOptions) {
    this.#options = options;
    this.#node = {
      name: options.nodeName,
      ready: false,
      runtimeHandlers: [],
      capacity: {},
      allocatable: {},
      systemInfo: {},
      memoryAvailableBytes: 0,
    };
  }

  static handles(pathname: string): boolean {
    return pathname === DASHBOARD_PATH || pathname.startsWith(`${DASHBOARD_PATH}/`);
  }

  /** Samples until close(); pages connected to the stream get each new state. */
  async run(): Promise<void> {
    const every = this.#options.sampleEveryMs ?? 5000;
    while (!this.#closing.signal.aborted) {
      await this.#sample().catch((e) => this.#options.logger.debug({ err: e }, 'dashboard sample failed'));
      this.#broadcast();
      await sleep(every, undefined, { signal: this.#closing.signal }).catch(() => undefined);
    }
  }

  close(): void {
    this.#closing.abort();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  state(): DashboardState {
    const series: DashboardState['series'] = {};
    for (const [uid, byName] of this.#series) series[uid] = Object.fromEntries(byName);
    return { node: this.#node, pods: this.#options.pods(), events: this.#options.events?.({}) ?? [], series, sampledAt: this.#sampledAt };
  }

  async request(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (pathname === DASHBOARD_PATH) {
      res.writeHead(301, { Location: `${DASHBOARD_PATH}/` });
      return void res.end();
    }
    const rest = pathname.slice(DASHBOARD_PATH.length + 1);
    if (rest === 'api/state') {
      await this.#readNode();
      return this.#sendJson(res, this.state());
    }
    if (rest === 'api/stream') {
      await this.#readNode();
      return this.#stream(req, res);
    }
    return this.#asset(res, rest === '' ? 'index.html' : rest);
  }

  /** The node's facts (the runtime's Version and Status, /proc): read only for pages that show them. */
  async #readNode(): Promise<void> {
    const { nodeStatus, nodeName } = this.#options;
    const [host, status] = await Promise.all([
      hostInfo(),
      nodeStatus?.(this.#closing.signal).catch((e): ProviderNodeStatus => ({ ready: false, message: (e as Error).message })),
    ]);
    this.#node = {
      name: nodeName,
      ready: status?.ready ?? true,
      ...(status?.message ? { message: status.message } : {}),
      ...(status?.runtimeVersion ? { runtimeVersion: status.runtimeVersion } : {}),
      runtimeHandlers: status?.runtimeHandlers ?? [],
      capacity: status?.capacity ?? host.capacity,
      allocatable: status?.allocatable ?? status?.capacity ?? host.capacity,
      systemInfo: { ...host.systemInfo },
      memoryAvailableBytes: host.memoryAvailableBytes,
    };
  }

  /** Stats always (the charts keep the last minutes, also for a page opened later); the node's facts while a page watches. */
  async #sample(): Promise<void> {
    const [pods] = await Promise.all([
      this.#options.stats?.(this.#closing.signal).catch(() => [] as PodStats[]),
      this.#clients.size > 0 ? this.#readNode() : undefined,
    ]);
    const now = Date.now();
    this.#sampledAt = now;
    const live = new Set<string>();
    const keep = this.#options.keepSamples ?? 120;
    const push = (uid: string, name: string, s: Sample) => {
      let byName = this.#series.get(uid);
      if (!byName) {
        byName = new Map();
        this.#series.set(uid, byName);
      }
      const list = byName.get(name) ?? [];
      list.push(s);
      if (list.length > keep) list.splice(0, list.length - keep);
      byName.set(name, list);
    };
    const point = (cpu?: { usageNanoCores?: number }, memory?: { workingSetBytes?: number }): Sample => [
      now,
      cpu?.usageNanoCores === undefined ? null : Math.round(cpu.usageNanoCores / 1e6),
      memory?.workingSetBytes ?? null,
    ];
    for (const p of pods ?? []) {
      live.add(p.podRef.uid);
      push(p.podRef.uid, '', point(p.cpu, p.memory));
      for (const c of p.containers) push(p.podRef.uid, c.name, point(c.cpu, c.memory));
    }
    for (const uid of this.#series.keys()) if (!live.has(uid)) this.#series.delete(uid);
  }

  #stream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(`retry: 2000\n\n`);
    this.#clients.add(res);
    this.#send(res);
    const drop = () => this.#clients.delete(res);
    req.on('close', drop);
    res.on('close', drop);
  }

  #send(res: ServerResponse): void {
    // A page that does not read is dropped rather than buffered without bound.
    if (res.writableLength > 8 * 1024 * 1024) {
      res.destroy();
      this.#clients.delete(res);
      return;
    }
    res.write(`event: state\ndata: ${JSON.stringify(this.state())}\n\n`);
  }

  #broadcast(): void {
    for (const res of this.#clients) this.#send(res);
  }

  #sendJson(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache' });
    res.end(text);
  }

  async #asset(res: ServerResponse, name: string): Promise<void> {
    const root = path.resolve(this.#options.assetsDir);
    const file = path.resolve(root, name);
    const info = file.startsWith(`${root}/`) ? await stat(file).catch(() => undefined) : undefined;
    if (!info?.isFile()) {
      const built = await stat(path.join(root, 'index.html')).then(
        () => true,
        () => false,
      );
      const text = built ? '404 page not found\n' : 'the dashboard is not built: run scripts/install.sh (it builds web/ into web/dist)\n';
      res.writeHead(built ? 404 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end(text);
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': info.size,
      // Built assets carry a content hash in their names; the page itself must always be fresh.
      'Cache-Control': name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    createReadStream(file).pipe(res);
  }
}
