// The HTTP status the node API answers a refused request with, by the error's kind (the kubelet's
// statuses for the same conditions); anything else is a 500.
import type { ErrorKind } from '../errors/errors.ts';

const STATUS_FOR_KIND: Partial<Record<ErrorKind, number>> = {
  'invalid-argument': 400,
  'failed-precondition': 400,
  'not-found': 404,
  unimplemented: 501,
  unavailable: 503,
  'deadline-exceeded': 504,
};

export function httpStatusFor(kind: ErrorKind): number {
  return STATUS_FOR_KIND[kind] ?? 500;
}
