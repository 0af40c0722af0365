// The one table between BerthError kinds and gRPC status codes, read in both directions.
import { status } from '@grpc/grpc-js';
import type { ErrorKind } from '../errors/errors.ts';

const KIND_TO_STATUS: Readonly<Record<ErrorKind, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  'failed-precondition': status.FAILED_PRECONDITION,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  unavailable: status.UNAVAILABLE,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  unimplemented: status.UNIMPLEMENTED,
  cancelled: status.CANCELLED,
  aborted: status.ABORTED,
  internal: status.INTERNAL,
};

const STATUS_TO_KIND: ReadonlyMap<status, ErrorKind> = new Map(
  Object.entries(KIND_TO_STATUS).map(([kind, code]) => [code, kind as ErrorKind]),
);

/** The gRPC status code a BerthError of this kind travels as. */
export function grpcStatusForKind(kind: ErrorKind): status {
  return KIND_TO_STATUS[kind];
}

/** The kind a received gRPC status code becomes; codes without a kind (UNKNOWN, DATA_LOSS, …) become `internal`. */
export function kindForGrpcStatus(code: number): ErrorKind {
  return STATUS_TO_KIND.get(code as status) ?? 'internal';
}

/** `NOT_FOUND` for status.NOT_FOUND; `CODE_<n>` for numbers outside the enum. */
export function grpcStatusName(code: number): string {
  return status[code] ?? `CODE_${code}`;
}
