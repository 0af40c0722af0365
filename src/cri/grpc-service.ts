// Bridges protobuf-es service descriptors and @grpc/grpc-js: server definitions, typed handlers,
// typed promise clients, and the translation of errors in both directions.
import { once } from 'node:events';
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import * as grpc from '@grpc/grpc-js';
import type { OperationContext } from '../cri-api/operations.ts';
import { isErrorCode } from '../errors/error-codes.ts';
import { BerthError, cancelled, toBerthError, unimplemented } from '../errors/errors.ts';
import { grpcStatusForKind, grpcStatusName, kindForGrpcStatus } from './grpc-status.ts';

/** Trailing-metadata key carrying BerthError.code across the wire. */
export const ERROR_CODE_METADATA_KEY = 'berth-error-code';

/** kubelet's limit; grpc-js would otherwise stop at 4 MiB. */
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

type AnyMethod = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;
type Input<M extends AnyMethod> = MessageShape<M['input']>;
type Output<M extends AnyMethod> = MessageShape<M['output']>;
type InputInit<M extends AnyMethod> = MessageInitShape<M['input']>;
type OutputInit<M extends AnyMethod> = MessageInitShape<M['output']>;

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializer(schema: DescMessage): (value: MessageShape<DescMessage>) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => MessageShape<DescMessage> {
  return (bytes) => fromBinary(schema, bytes);
}

/** A grpc-js ServiceDefinition keyed by each method's localName (`version`), with the proto name as originalName. */
export function serviceDefinition(service: GenService<GenServiceMethods>): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      originalName: method.name,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition;
}

// ---- errors ----

/** Any thrown value as a grpc ServiceError: status from the kind table, the message, `berth-error-code` in trailers. */
export function toGrpcError(e: unknown): grpc.ServiceError {
  const error = toBerthError(e);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, error.code);
  return Object.assign(new Error(error.message), {
    code: grpcStatusForKind(error.kind),
    details: error.message,
    metadata,
  });
}

function isServiceError(e: unknown): e is grpc.ServiceError {
  return e instanceof Error && typeof (e as Partial<grpc.ServiceError>).code === 'number';
}

/** A grpc client error as a BerthError; the remote BerthError.code is kept when the server sent one. */
export function fromGrpcError(e: unknown, method?: string): BerthError {
  if (!isServiceError(e)) return toBerthError(e);
  const remoteCode = e.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  const kind = kindForGrpcStatus(e.code);
  const code = isErrorCode(remoteCode) ? remoteCode : (`grpc-${kind}` as const);
  const message = e.details || grpcStatusName(e.code);
  return new BerthError(kind, code, message, {
    cause: e,
    fields: { grpcStatus: grpcStatusName(e.code), ...(method === undefined ? {} : { method }) },
  });
}

function abortReason(signal: AbortSignal): BerthError {
  const reason: unknown = signal.reason;
  if (reason instanceof BerthError) return reason;
  if (reason instanceof Error && (reason.name === 'TimeoutError' || reason.name === 'AbortError')) {
    return toBerthError(reason);
  }
  return cancelled('cancelled', 'call cancelled', { cause: reason });
}

// ---- server side ----

export interface CallContext extends OperationContext {
  readonly metadata: grpc.Metadata;
  /** `/runtime.v1.RuntimeService/Version` */
  readonly method: string;
}

export type UnaryHandler<M extends AnyMethod> = (request: Input<M>, context: CallContext) => Promise<OutputInit<M>> | OutputInit<M>;

export type ServerStreamHandler<M extends AnyMethod> = (request: Input<M>, context: CallContext) => AsyncIterable<OutputInit<M>>;

/** One handler per RPC, by localName; unary and server-streaming methods only. */
export type ServiceHandlers<T extends GenServiceMethods> = {
  [K in keyof T]: T[K]['methodKind'] extends 'unary'
    ? UnaryHandler<T[K]>
    : T[K]['methodKind'] extends 'server_streaming'
      ? ServerStreamHandler<T[K]>
      : never;
};

function callContext(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  method: DescMethod,
): CallContext {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort());
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const signal = Number.isFinite(deadlineMs)
    ? AbortSignal.any([controller.signal, AbortSignal.timeout(Math.max(0, deadlineMs - Date.now()))])
    : controller.signal;
  return { signal, metadata: call.metadata, method: methodPath(method) };
}

function unaryCall(method: DescMethod, handler: UnaryHandler<AnyMethod> | undefined): grpc.UntypedHandleCall {
  return (call: grpc.ServerUnaryCall<MessageShape<DescMessage>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const run = async () => {
      if (handler === undefined) throw notImplemented(method);
      return create(method.output, await handler(call.request, callContext(call, method)));
    };
    run().then(
      (response) => callback(null, response),
      (e: unknown) => callback(toGrpcError(e)),
    );
  };
}

function serverStreamCall(method: DescMethod, handler: ServerStreamHandler<AnyMethod> | undefined): grpc.UntypedHandleCall {
  return (call: grpc.ServerWritableStream<MessageShape<DescMessage>, unknown>) => {
    const run = async () => {
      if (handler === undefined) throw notImplemented(method);
      const context = callContext(call, method);
      const items = handler(call.request, context)[Symbol.asyncIterator]();
      try {
        for (let next = await items.next(); !next.done; ) {
          if (call.cancelled) return;
          const flowing = call.write(create(method.output, next.value));
          const following = items.next();
          // While the client is slow, the handler may still fail (an event stream that overflowed):
          // end the call then, instead of waiting for a drain that may never come.
          if (!flowing) await Promise.race([once(call, 'drain', { signal: context.signal }), following.then(() => new Promise(() => {}))]);
          next = await following;
        }
      } finally {
        Promise.resolve(items.return?.()).catch(() => {});
      }
      call.end();
    };
    run().catch((e: unknown) => call.emit('error', toGrpcError(e)));
  };
}

function notImplemented(method: DescMethod): BerthError {
  return unimplemented('unimplemented', `${methodPath(method)} is not implemented`);
}

/**
 * A grpc-js implementation object for `service`: handlers may be partial; every missing or
 * unsupported (client/bidi streaming) method answers UNIMPLEMENTED; thrown errors go through toGrpcError.
 */
export function serviceImplementation<T extends GenServiceMethods>(
  service: GenService<T>,
  handlers: Partial<ServiceHandlers<T>>,
): grpc.UntypedServiceImplementation {
  const byName = handlers as Record<string, unknown>;
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = byName[method.localName];
    implementation[method.localName] =
      method.methodKind === 'unary'
        ? unaryCall(method, handler as UnaryHandler<AnyMethod> | undefined)
        : method.methodKind === 'server_streaming'
          ? serverStreamCall(method, handler as ServerStreamHandler<AnyMethod> | undefined)
          : unaryCall(method, undefined);
  }
  return implementation;
}

/** Registers `handlers` for `service` on a grpc-js server. */
export function addService<T extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<T>,
  handlers: Partial<ServiceHandlers<T>>,
): void {
  server.addService(serviceDefinition(service), serviceImplementation(service, handlers));
}

// ---- client side ----

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  metadata?: grpc.Metadata;
}

export type UnaryClientMethod<M extends AnyMethod> = (request?: InputInit<M>, options?: CallOptions) => Promise<Output<M>>;

export type ServerStreamClientMethod<M extends AnyMethod> = (request?: InputInit<M>, options?: CallOptions) => AsyncIterable<Output<M>>;

/** Promise-returning methods by localName (`client.listImages({})`), plus close(). */
export type ServiceClient<T extends GenServiceMethods> = {
  readonly [K in keyof T]: T[K]['methodKind'] extends 'unary'
    ? UnaryClientMethod<T[K]>
    : T[K]['methodKind'] extends 'server_streaming'
      ? ServerStreamClientMethod<T[K]>
      : never;
} & {
  close(): void;
};

export interface ClientOptions {
  /** Extra grpc-js channel options; the message size limits default to 16 MiB. */
  channelOptions?: grpc.ChannelOptions;
}

/** `unix:///run/x.sock`, `unix:/run/x.sock` and `unix:relative` pass through; a bare `/path` gets `unix:`. */
export function normalizeAddress(address: string): string {
  return address.startsWith('/') ? `unix:${address}` : address;
}

function grpcCallOptions(options: CallOptions): grpc.CallOptions {
  return options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
}

function unaryClientMethod(client: grpc.Client, method: DescMethod): UnaryClientMethod<AnyMethod> {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  return (request = {}, options = {}) => {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        create(method.input, request),
        options.metadata ?? new grpc.Metadata(),
        grpcCallOptions(options),
        (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(signal?.aborted ? abortReason(signal) : fromGrpcError(error, path));
          else resolve(response as MessageShape<DescMessage>);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
}

function serverStreamClientMethod(client: grpc.Client, method: DescMethod): ServerStreamClientMethod<AnyMethod> {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  return async function* (request = {}, options = {}) {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const call = client.makeServerStreamRequest(
      path,
      serialize,
      deserialize,
      create(method.input, request),
      options.metadata ?? new grpc.Metadata(),
      grpcCallOptions(options),
    );
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for await (const message of call) yield message as MessageShape<DescMessage>;
      finished = true;
    } catch (e) {
      finished = true;
      throw signal?.aborted ? abortReason(signal) : fromGrpcError(e, path);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) call.cancel(); // the consumer stopped early
    }
  };
}

/** A typed client for `service` at `address` (`unix:///path`, `unix:/path`, `/path` or `host:port`), over an insecure channel. */
export function makeClient<T extends GenServiceMethods>(
  service: GenService<T>,
  address: string,
  options: ClientOptions = {},
): ServiceClient<T> {
  const client = new grpc.Client(normalizeAddress(address), grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': DEFAULT_MAX_MESSAGE_BYTES,
    ...options.channelOptions,
  });
  const methods: Record<string, unknown> = { close: () => client.close() };
  for (const method of service.methods) {
    methods[method.localName] =
      method.methodKind === 'unary'
        ? unaryClientMethod(client, method)
        : method.methodKind === 'server_streaming'
          ? serverStreamClientMethod(client, method)
          : () => {
              throw notImplemented(method);
            };
  }
  return methods as ServiceClient<T>;
}
