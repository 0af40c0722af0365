// The CRI gRPC server on a unix socket: 0660 socket, 0700 directory, every call logged.
import { chmod, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import * as grpc from '@grpc/grpc-js';
import { ImageService, RuntimeService } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { ImageOperations, RuntimeOperations } from '../cri-api/operations.ts';
import { toBerthError } from '../errors/errors.ts';
import type { Logger } from '../util/logger.ts';
import { AuthorityFixingStream } from './authority-rewrite.ts';
import { addService, type CallContext, type ServiceHandlers } from './grpc-service.ts';
import { grpcStatusForKind, grpcStatusName } from './grpc-status.ts';

export interface ServiceBinding<T extends GenServiceMethods = GenServiceMethods> {
  service: GenService<T>;
  handlers: Partial<ServiceHandlers<T>>;
}

/** Told of every call: when it starts and how it ends (its gRPC status name), as go-grpc-prometheus counts them. */
export interface CallObserver {
  started(method: string, streaming: boolean): void;
  handled(method: string, streaming: boolean, code: string, seconds: number): void;
}

export interface CriServer {
  /** Stops taking calls, lets running ones finish for up to `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export async function startCriServer(
  socket: string,
  bindings: ServiceBinding[],
  logger: Logger,
  observer?: CallObserver,
): Promise<CriServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  for (const { service, handlers } of bindings) addService(server, service, logged(handlers, logger, observer));

  await mkdir(path.dirname(socket), { recursive: true, mode: 0o700 });
  await chmod(path.dirname(socket), 0o700);
  await rm(socket, { force: true });
  // Connections are accepted here and injected into the gRPC server, through the rewrite that lets
  // older clients (which send the socket path as :authority) in.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const connections = new Set<net.Socket>();
  const listener = net.createServer((conn) => {
    connections.add(conn);
    conn.once('close', () => connections.delete(conn));
    injector.injectConnection(new AuthorityFixingStream(conn));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(socket, () => resolve());
  });
  await chmod(socket, 0o660);
  logger.info({ socket }, 'serving CRI');

  return {
    // grpc-js's tryShutdown does not wait for calls on injected connections: drain (GOAWAY), then
    // wait for the clients to close their connections, up to the grace period.
    async close(graceMs = 10_000) {
      listener.close();
      injector.drain(graceMs);
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      injector.destroy();
      server.forceShutdown();
      for (const c of connections) c.destroy();
      await rm(socket, { force: true });
    },
  };
}

type AnyHandler = (request: unknown, context: CallContext) => unknown;

/** Wraps every handler: debug log per call, warn with code and kind when it fails. */
function logged<T extends GenServiceMethods>(
  handlers: Partial<ServiceHandlers<T>>,
  logger: Logger,
  observer?: CallObserver,
): Partial<ServiceHandlers<T>> {
  const out: Record<string, AnyHandler> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, AnyHandler][]) {
    out[name] = (request, context) => {
      const started = performance.now();
      let streaming = false;
      const report = (e?: unknown) => {
        const ms = Math.round((performance.now() - started) * 10) / 10;
        observer?.handled(
          context.method,
          streaming,
          e === undefined ? 'OK' : grpcStatusName(grpcStatusForKind(toBerthError(e).kind)),
          ms / 1000,
        );
        if (e === undefined) {
          logger.debug({ method: context.method, ms }, 'call');
          return;
        }
        const err = toBerthError(e);
        const level = err.kind === 'internal' ? 'error' : 'warn';
        logger[level](
          { method: context.method, ms, kind: err.kind, code: err.code, err: err.kind === 'internal' ? e : undefined },
          err.message,
        );
      };
      let result: unknown;
      try {
        result = handler(request, context);
      } catch (e) {
        observer?.started(context.method, false);
        report(e);
        throw e;
      }
      streaming =
        result !== null && typeof result === 'object' && typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
      observer?.started(context.method, streaming);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        return (result as Promise<unknown>).then(
          (v) => {
            report();
            return v;
          },
          (e) => {
            report(e);
            throw e;
          },
        );
      }
      if (streaming) return observedStream(result as AsyncIterable<unknown>, report);
      report();
      return result;
    };
  }
  return out as Partial<ServiceHandlers<T>>;
}

/** The stream as it is, with `report` told once when it ends, fails or is given up. */
async function* observedStream(items: AsyncIterable<unknown>, report: (e?: unknown) => void): AsyncGenerator<unknown> {
  let failure: unknown;
  try {
    yield* items;
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    report(failure);
  }
}

/** A service with its handlers, typed together, for startCriServer. */
export function bindService<T extends GenServiceMethods>(service: GenService<T>, handlers: Partial<ServiceHandlers<T>>): ServiceBinding {
  return { service, handlers } as unknown as ServiceBinding;
}

/** What serves the CRI: berth's services (src/services), or another backend's. */
export interface CriBackend {
  runtime: RuntimeOperations;
  image: ImageOperations;
}

/** The CRI RuntimeService and ImageService, each RPC served by the backend's operation. */
export function criBindings(backend: CriBackend): ServiceBinding[] {
  return [bindService(RuntimeService, backend.runtime), bindService(ImageService, backend.image)];
}
