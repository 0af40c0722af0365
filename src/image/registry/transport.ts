// One HTTP exchange with a registry (node:http / node:https): abortable, with a limit on the wait
// for response headers, following redirects. The registry's Authorization header goes only to
// the origin it was meant for: a redirect to another host (a CDN, object storage) gets none.

import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { deadlineExceeded, unavailable } from '../../errors/errors.ts';
import { abortError, connectionError, redact } from './status-errors.ts';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  /** Sent only to `url`'s own origin, never to a redirect target elsewhere. */
  authorization?: string;
  body?: string;
  signal?: AbortSignal | undefined;
  /** How long to wait for the response headers (each hop), in ms. */
  timeoutMs?: number;
  /** Default 10; 0 returns redirects as they are. */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: URL;
  body: IncomingMessage;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export const DEFAULT_HEADERS_TIMEOUT_MS = 5 * 60_000;

/** Connection pools for one client; `close()` ends their idle sockets. */
export class HttpTransport {
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
  readonly #userAgent: string;

  constructor(userAgent = 'berth') {
    this.#userAgent = userAgent;
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  /** Sends `req`, following redirects for GET and HEAD. Non-2xx statuses are returned, not thrown. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const maxRedirects = req.maxRedirects ?? 10;
    const authOrigin = req.url.origin;
    let url = req.url;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(req, url, url.origin === authOrigin ? req.authorization : undefined);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.status) || location === undefined || req.method === 'POST' || maxRedirects === 0) return res;
      res.body.resume();
      if (hop >= maxRedirects) {
        throw unavailable('too-many-redirects', `more than ${maxRedirects} redirects from ${redact(req.url.href)}`, {
          fields: { url: req.url.href },
        });
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (e) {
        throw unavailable('bad-redirect', `bad redirect from ${redact(url.href)} to "${location}"`, { cause: e });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw unavailable('bad-redirect', `redirect from ${redact(url.href)} to unsupported URL ${redact(next.href)}`);
      }
      url = next;
    }
  }

  #once(req: HttpRequest, url: URL, authorization: string | undefined): Promise<HttpResponse> {
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const headers: OutgoingHttpHeaders = { 'user-agent': this.#userAgent, ...req.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const timeoutMs = req.timeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, res?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          outgoing.destroy();
          reject(err);
        } else resolve(res!);
      };
      const onAbort = () => finish(abortError(signal!));
      const outgoing = send(url, { method: req.method, headers, agent: secure ? this.#https : this.#http }, (res) => {
        // Once the headers are in, aborting the signal ends the body stream.
        if (signal !== undefined) {
          const abortBody = () => res.destroy(abortError(signal));
          signal.addEventListener('abort', abortBody, { once: true });
          res.once('close', () => signal.removeEventListener('abort', abortBody));
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, url, body: res });
      });
      const timer = setTimeout(
        () =>
          finish(
            deadlineExceeded('no-progress', `no response from ${redact(url.href)} within ${timeoutMs} ms`, {
              fields: { url: url.href, timeoutMs },
            }),
          ),
        timeoutMs,
      );
      outgoing.on('error', (e) => finish(connectionError(url.href, e)));
      signal?.addEventListener('abort', onAbort, { once: true });
      outgoing.end(req.body);
    });
  }
}
