// The seam between the CRI's transport and what serves it: one operation per RPC, taking the
// request message and answering the response, with no gRPC in sight. src/cri serves any set of
// operations over gRPC; berth's own are in src/services (runtime-operations.ts,
// image-operations.ts), and a Docker Engine backend (the dockershim) is a second set.
import type { DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { ImageService, RuntimeService } from './gen/runtime/v1/api_pb.js';

export interface OperationContext {
  /** Aborted when the caller cancels or the call's deadline passes. */
  readonly signal: AbortSignal;
}

type AnyMethod = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;

export type UnaryOperation<M extends AnyMethod> = (
  request: MessageShape<M['input']>,
  context: OperationContext,
) => Promise<MessageInitShape<M['output']>> | MessageInitShape<M['output']>;

export type StreamOperation<M extends AnyMethod> = (
  request: MessageShape<M['input']>,
  context: OperationContext,
) => AsyncIterable<MessageInitShape<M['output']>>;

/** One operation per RPC of a service, by the method's localName (`runPodSandbox`). */
export type Operations<T extends GenServiceMethods> = {
  [K in keyof T]: T[K]['methodKind'] extends 'unary'
    ? UnaryOperation<T[K]>
    : T[K]['methodKind'] extends 'server_streaming'
      ? StreamOperation<T[K]>
      : never;
};

/** The CRI RuntimeService; an operation left out answers UNIMPLEMENTED. */
export type RuntimeOperations = Partial<Operations<typeof RuntimeService.method>>;

/** The CRI ImageService; an operation left out answers UNIMPLEMENTED. */
export type ImageOperations = Partial<Operations<typeof ImageService.method>>;
