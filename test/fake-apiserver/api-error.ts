// Errors as the API server sends them: a Status object with a reason and an HTTP code.
import type { ApiObject } from './api-object.ts';

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown>;
  constructor(code: number, reason: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
  status(): ApiObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      details: this.details,
      code: this.code,
    };
  }
}

export const resourceNotFound = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

export const methodNotAllowed = () =>
  new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export const notFound = (plural: string, name: string) =>
  new ApiError(404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural });

export const conflict = (plural: string, name: string, why: string) =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": ${why}`, { name, kind: plural });

/** 422 Invalid with the field errors, as "Kind "name" is invalid: field: detail, ...". */
export function invalid(kind: string, name: string, causes: string[]): ApiError {
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${causes.join(', ')}`, { name, kind });
}

/** 403 Forbidden, as the authorizer ("User ... cannot ...") or an admission plugin words it. */
export function forbidden(plural: string, name: string, why: string): ApiError {
  return new ApiError(403, 'Forbidden', `${plural}${name ? ` "${name}"` : ''} is forbidden: ${why}`, { name, kind: plural });
}
