// berth daemon's Prometheus metrics, served on [metrics] address (off by default): the CRI calls as
// containerd counts them (go-grpc-prometheus: grpc_server_started_total, grpc_server_handled_total,
// grpc_server_handling_seconds), image pulls (bytes downloaded, durations), pods and containers by
// state, runtime handler errors, and the process itself (prom-client's default metrics).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CallObserver } from '../cri/server.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { ImagePuller, PullOptions } from '../image/image-pull.ts';
import type { OciRuntime } from '../runtime/oci/oci-runtime.ts';
import type { PodStore } from '../store/pod-store.ts';
import type { Logger } from '../util/logger.ts';

const SANDBOX_STATES = ['ready', 'notready'] as const;
const CONTAINER_STATES = ['created', 'running', 'exited', 'unknown'] as const;
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** `/runtime.v1.RuntimeService/Version` as go-grpc-prometheus labels it. */
function methodLabels(path: string, streaming: boolean) {
  const [, service = '', method = ''] = path.split('/');
  return { grpc_service: service, grpc_method: method, grpc_type: streaming ? 'server_stream' : 'unary' };
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly #started = new Counter({
    name: 'grpc_server_started_total',
    help: 'Total number of RPCs started on the server.',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
    registers: [this.registry],
  });
  readonly #handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'Total number of RPCs completed on the server, regardless of success or failure.',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
    registers: [this.registry],
  });
  readonly #handling = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly #pullBytes = new Counter({
    name: 'berth_image_pull_bytes_total',
    help: 'Bytes of image layers downloaded by pulls (layers already present count nothing).',
    registers: [this.registry],
  });
  readonly #pullDuration = new Histogram({
    name: 'berth_image_pull_duration_seconds',
    help: 'Duration of image pulls, by result (success or failure).',
    labelNames: ['result'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly #runtimeErrors = new Counter({
    name: 'berth_runtime_handler_errors_total',
    help: 'Calls of an OCI runtime handler that failed, by handler and operation.',
    labelNames: ['handler', 'operation'],
    registers: [this.registry],
  });

  constructor(store: PodStore) {
    new Gauge({
      name: 'berth_pod_sandboxes',
      help: 'Pod sandboxes the daemon holds, by state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const state of SANDBOX_STATES) this.set({ state }, store.sandboxes().filter((s) => s.state === state).length);
      },
    });
    new Gauge({
      name: 'berth_containers',
      help: 'Containers the daemon holds, by state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const state of CONTAINER_STATES) this.set({ state }, store.containers().filter((c) => c.state === state).length);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  readonly calls: CallObserver = {
    started: (method, streaming) => this.#started.inc(methodLabels(method, streaming)),
    handled: (method, streaming, code, seconds) => {
      const labels = methodLabels(method, streaming);
      this.#handled.inc({ ...labels, grpc_code: code });
      this.#handling.observe(labels, seconds);
    },
  };

  /** The puller with each pull timed and its downloaded bytes counted. */
  meteredPuller(puller: ImagePuller): ImagePuller {
    const pull = puller.pull.bind(puller);
    const metrics = this;
    return Object.assign(Object.create(puller) as ImagePuller, {
      async pull(reference: string, options: PullOptions = {}) {
        const end = metrics.#pullDuration.startTimer();
        try {
          const record = await pull(reference, {
            ...options,
            onEvent: (event) => {
              if (event.kind === 'layer' && event.phase === 'downloaded') metrics.#pullBytes.inc(event.total);
              options.onEvent?.(event);
            },
          });
          end({ result: 'success' });
          return record;
        } catch (e) {
          end({ result: 'failure' });
          throw e;
        }
      },
    });
  }

  /** The runtime with every failed call counted under its handler's name. */
  meteredRuntime(handler: string, runtime: OciRuntime): OciRuntime {
    const errors = this.#runtimeErrors;
    return new Proxy(runtime, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          if (result instanceof Promise) {
            return result.catch((e: unknown) => {
              errors.inc({ handler, operation: String(key) });
              throw e;
            });
          }
          return result;
        };
      },
    });
  }
}

/** `host:port` (an IPv6 host in brackets) as listen() wants it. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw invalidArgument('bad-config', `metrics.address: not host:port: ${address}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Serves the registry at /metrics on `address`. */
export async function serveMetrics(address: string, registry: Registry, logger: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const { host, port } = parseListenAddress(address);
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (e: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ address: `${host}:${bound}` }, 'serving metrics');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
