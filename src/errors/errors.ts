// Typed errors: a stable machine code, a kind that decides the gRPC status, the cause.
import type { CodeOfKind, ErrorCode } from './error-codes.ts';
import type { ErrorKind } from './error-kind.ts';

export type { CodeOfKind, ErrorCode } from './error-codes.ts';
export type { ErrorKind } from './error-kind.ts';

export interface BerthErrorOptions {
  cause?: unknown;
  fields?: Record<string, unknown>;
}

export class BerthError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly fields: Record<string, unknown>;
  constructor(kind: ErrorKind, code: ErrorCode, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.kind = kind;
    this.code = code;
    this.fields = options.fields ?? {};
  }
}

const make =
  <K extends ErrorKind>(kind: K) =>
  (code: CodeOfKind<K>, message: string, options?: BerthErrorOptions): BerthError =>
    new BerthError(kind, code, message, options);

export const invalidArgument = make('invalid-argument');
export const notFound = make('not-found');
export const alreadyExists = make('already-exists');
export const failedPrecondition = make('failed-precondition');
export const deadlineExceeded = make('deadline-exceeded');
export const unavailable = make('unavailable');
export const unauthenticated = make('unauthenticated');
export const permissionDenied = make('permission-denied');
export const resourceExhausted = make('resource-exhausted');
export const unimplemented = make('unimplemented');
export const cancelled = make('cancelled');
export const internal = make('internal');

export function isBerthError(e: unknown, kind?: ErrorKind): e is BerthError {
  return e instanceof BerthError && (kind === undefined || e.kind === kind);
}

/** Wraps anything thrown into a BerthError; an AbortSignal's reason becomes `cancelled` or `deadline-exceeded`. */
export function toBerthError(e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  if (e instanceof Error && e.name === 'TimeoutError') return deadlineExceeded('timeout', e.message, { cause: e });
  if (e instanceof Error && e.name === 'AbortError') return cancelled('cancelled', e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return internal('internal', message, { cause: e });
}
