// HTTP statuses and socket failures of registry traffic, as BerthErrors:
//   404 → not-found (manifest-unknown / blob-unknown)   401, 403 → unauthenticated (registry-unauthorized)
//   429 → unavailable (registry-rate-limited)           5xx → unavailable (registry-unavailable)
//   400 → invalid-argument (registry-bad-request)       refused/reset/DNS/TLS → unavailable (registry-unreachable)

import type { BerthError } from '../../errors/errors.ts';
import { cancelled, invalidArgument, isBerthError, notFound, toBerthError, unauthenticated, unavailable } from '../../errors/errors.ts';

export type RegistryObject = 'manifest' | 'blob' | 'token';

/** The first error a registry put in its JSON body (`{"errors":[{"code","message"}]}`), if any. */
export function registryErrorDetail(body: string): { code?: string; message?: string } {
  try {
    const v = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(v.errors) ? v.errors[0] : undefined;
    if (first === undefined) return {};
    const out: { code?: string; message?: string } = {};
    if (typeof first.code === 'string') out.code = first.code;
    if (typeof first.message === 'string') out.message = first.message;
    return out;
  } catch {
    return {};
  }
}

export interface StatusErrorContext {
  object: RegistryObject;
  /** What was asked for, for the message: `docker.io/library/busybox:latest`, a digest. */
  subject: string;
  url: string;
  /** Response body (possibly truncated), to pick the registry's own error code from. */
  body?: string;
}

export function statusError(status: number, ctx: StatusErrorContext): BerthError {
  const detail = ctx.body === undefined ? {} : registryErrorDetail(ctx.body);
  const fields = { status, url: ctx.url, ...(detail.code === undefined ? {} : { registryCode: detail.code }) };
  const said = detail.message === undefined ? '' : `: ${detail.message}`;
  const where = `${ctx.object} ${ctx.subject} (HTTP ${status} from ${redact(ctx.url)})`;
  if (status === 404) {
    return notFound(ctx.object === 'blob' ? 'blob-unknown' : 'manifest-unknown', `${ctx.object} not found: ${where}${said}`, { fields });
  }
  if (status === 401 || status === 403) {
    return unauthenticated('registry-unauthorized', `not authorized to pull ${where}${said}`, { fields });
  }
  if (status === 429) return unavailable('registry-rate-limited', `too many requests for ${where}${said}`, { fields });
  if (status >= 500) return unavailable('registry-unavailable', `registry failed on ${where}${said}`, { fields });
  if (status === 400) return invalidArgument('registry-bad-request', `registry rejected the request for ${where}${said}`, { fields });
  return unavailable('registry-unexpected-status', `unexpected answer for ${where}${said}`, { fields });
}

/** A socket-level failure (refused, reset, DNS, TLS) reaching `url`. */
export function connectionError(url: string, e: unknown): BerthError {
  if (isBerthError(e)) return e;
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : String(e);
  return unavailable('registry-unreachable', `cannot reach ${redact(url)}: ${message}`, {
    cause: e,
    fields: { url, ...(typeof code === 'string' ? { errno: code } : {}) },
  });
}

/** A failure while a response body was being read. */
export function transferError(url: string, e: unknown): BerthError {
  if (isBerthError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return unavailable('transfer-interrupted', `transfer from ${redact(url)} broke off: ${message}`, {
    cause: e,
    fields: { url },
  });
}

/** The BerthError for an aborted signal: its reason if that is one, else cancelled / deadline-exceeded. */
export function abortError(signal: AbortSignal): BerthError {
  const reason: unknown = signal.reason;
  if (reason === undefined) return cancelled('cancelled', 'the request was cancelled');
  return toBerthError(reason);
}

/** URL without query credentials or user info, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|signature|sig|credential|key|secret|auth/i.test(key)) u.searchParams.set(key, 'REDACTED');
    }
    return u.toString();
  } catch {
    return url;
  }
}
