// The node's connection to a Kubernetes API server, through @kubernetes/client-node: the typed API
// groups it calls (core/v1, coordination.k8s.io/v1), its watch, and the small translations between
// the library's objects and the plain JSON shapes the node works with.
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { BerthError, type ErrorKind } from '../../errors/errors.ts';

export interface KubeApi {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;
  readonly watch: Watch;
}

export function connectKubeApi(config: KubeConfig): KubeApi {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    watch: new Watch(config),
  };
}

/** A kubeconfig file, as `kubectl --kubeconfig` reads it. */
export function loadKubeConfig(file: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(file);
  return config;
}

/** Options that send a patch as a JSON merge patch (RFC 7386), which the API server takes for every built-in type. */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a failed API call (ApiException.code), watch (statusCode) or apiError; undefined for other errors. */
export function statusCode(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  if (e instanceof BerthError) return typeof e.fields.statusCode === 'number' ? e.fields.statusCode : undefined;
  const { code, statusCode: status } = e as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof status === 'number') return status;
  return undefined;
}

const KIND_FOR_STATUS: Record<number, ErrorKind> = {
  400: 'invalid-argument',
  401: 'unauthenticated',
  403: 'permission-denied',
  404: 'not-found',
  409: 'aborted',
  422: 'invalid-argument',
  429: 'resource-exhausted',
  504: 'deadline-exceeded',
};

/** A failed API call or watch as a BerthError: its kind from the HTTP status, which statusCode() still reads. */
export function apiError(message: string, status: number | undefined, cause?: unknown): BerthError {
  const kind = (status !== undefined && KIND_FOR_STATUS[status]) || 'unavailable';
  return new BerthError(kind, 'api-request-failed', message, { ...(cause === undefined ? {} : { cause }), fields: { statusCode: status } });
}

/** The Status message the API server sent with a failure, else the error's own message. */
export function apiErrorMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body || (e as Error).message;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : (e as Error).message;
}

/** Times as the API writes them: RFC 3339 in UTC, with a fraction only when it has one. */
function timeText(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * An object the library returned, as plain JSON (its Date fields as the API's time strings): the
 * shape the node's own types describe.
 */
export function fromApi<T>(value: unknown): T {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
      const raw = this[key];
      return raw instanceof Date ? timeText(raw) : v;
    }),
  ) as T;
}

/**
 * A plain object as a request body of the library's type. The library's types hold times as Date;
 * its serializer passes time strings through unchanged, so the API's own time strings go as they are.
 */
export function toApi<T>(value: object): T {
  return value as unknown as T;
}
