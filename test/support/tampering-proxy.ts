// An HTTP proxy on loopback in front of a registry that misbehaves on request:
// per path pattern it corrupts bytes of a response, truncates it, stalls it,
// resets the connection or answers a fixed status. Everything else passes
// through untouched. The Host header is passed on, so URLs that the registry
// builds (upload Locations) point back at the proxy.
//
//   const proxy = await startTamperingProxy(registry.url);
//   proxy.tamper(/\/blobs\/sha256:/, { kind: 'corrupt' }, { times: 1 });
//   // pull from `${proxy.host}/busybox:1`: the first blob fetched is corrupted
//   await proxy.stop();
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

export type TamperAction =
  /** Flip `count` bytes (default 1) of the body starting at `offset` (default: the middle; 0 without Content-Length). Size is unchanged. */
  | { kind: 'corrupt'; offset?: number; count?: number }
  /** Send the headers (with the full Content-Length) and `afterBytes` of the body (default: half), then close the socket. */
  | { kind: 'truncate'; afterBytes?: number }
  /**
   * Send the headers and `afterBytes` of the body (default 0), then nothing for
   * `seconds`; then close the socket (afterStall 'close', default) or send the rest ('finish').
   */
  | { kind: 'stall'; seconds: number; afterBytes?: number; afterStall?: 'close' | 'finish' }
  /** Answer `status` without asking the registry. Default body: a distribution error JSON. */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Reset the connection (TCP RST) before any response. */
  | { kind: 'reset' }
  /** Wait `ms` before forwarding, then pass through. */
  | { kind: 'delay'; ms: number }
  /** Send the body one byte every `intervalMs` (a registry that never stalls and never finishes). */
  | { kind: 'trickle'; intervalMs: number };

type BodyAction = Extract<TamperAction, { kind: 'corrupt' | 'truncate' | 'stall' | 'trickle' }>;

export interface TamperOptions {
  /** Only requests with this method (GET, HEAD, …). Default: any. */
  method?: string;
  /**
   * How many matching requests the rule applies to. Default: all. Body
   * actions (corrupt, truncate, stall) count only responses with status
   * 200/206; HEAD requests and other statuses pass untouched and uncounted.
   */
  times?: number;
}

export interface TamperRule {
  readonly match: RegExp;
  readonly action: TamperAction;
  readonly method: string | undefined;
  /** Requests left that the rule applies to. */
  remaining: number;
  /** Requests the rule has been applied to. */
  hits: number;
}

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The kind of the rule applied, if any (body actions: set once the response came). */
  tampered: TamperAction['kind'] | undefined;
  /** Status sent to the client (undefined while in flight or when reset). */
  status: number | undefined;
}

export interface TamperingProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly port: number;
  /** The URL requests are forwarded to. */
  readonly target: string;
  /** Every request seen, in order of arrival. */
  readonly requests: ProxiedRequest[];
  /**
   * Adds a rule for requests whose path+query matches. Rules are tried in the
   * order added; the first one with `remaining > 0` wins.
   */
  tamper(match: RegExp, action: TamperAction, opts?: TamperOptions): TamperRule;
  removeRule(rule: TamperRule): void;
  clearRules(): void;
  /** Closes the server and every connection (stalled ones included). Idempotent. */
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function forwardHeaders(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key)) out[key] = value;
  }
  return out;
}

/** Starts the proxy on a free loopback port in front of `target` (a URL or a TestRegistry). */
export async function startTamperingProxy(target: string | { url: string }): Promise<TamperingProxy> {
  const targetUrl = new URL(typeof target === 'string' ? target : target.url);
  const rules: TamperRule[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const agent = new Agent({ keepAlive: false });
  let stopped = false;

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const isBodyAction = (action: TamperAction): action is BodyAction =>
    action.kind === 'corrupt' || action.kind === 'truncate' || action.kind === 'stall' || action.kind === 'trickle';

  /**
   * The first rule that matches the request. Body actions (corrupt, truncate,
   * stall) skip HEAD requests and are only taken (counted) when the response
   * turns out to be a 200/206, so a 401 challenge or a 404 does not use them up.
   */
  const pickRule = (req: IncomingMessage): TamperRule | undefined => {
    const url = req.url ?? '/';
    for (const rule of rules) {
      if (rule.remaining <= 0) continue;
      if (rule.method !== undefined && rule.method !== req.method) continue;
      if (req.method === 'HEAD' && isBodyAction(rule.action)) continue;
      rule.match.lastIndex = 0;
      if (!rule.match.test(url)) continue;
      if (!isBodyAction(rule.action)) take(rule);
      return rule;
    }
    return undefined;
  };

  const take = (rule: TamperRule): void => {
    rule.remaining--;
    rule.hits++;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, rule: TamperRule | undefined): void => {
    const upstream = httpRequest(
      {
        protocol: targetUrl.protocol,
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        headers: forwardHeaders(req.headers),
        agent,
      },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        record.status = status;
        res.writeHead(status, upRes.statusMessage, forwardHeaders(upRes.headers));
        const lengthHeader = upRes.headers['content-length'];
        const total = lengthHeader === undefined ? undefined : Number(lengthHeader);
        const action = rule?.action;
        if (
          rule === undefined ||
          action === undefined ||
          !isBodyAction(action) ||
          (status !== 200 && status !== 206) ||
          rule.remaining <= 0
        ) {
          upRes.pipe(res);
          return;
        }
        take(rule);
        record.tampered = action.kind;
        if (action.kind === 'corrupt') {
          const count = action.count ?? 1;
          const start = action.offset ?? (total === undefined ? 0 : Math.floor(total / 2));
          let seen = 0;
          upRes.on('data', (chunk: Buffer) => {
            const buf = Buffer.from(chunk);
            for (let i = Math.max(start, seen); i < Math.min(start + count, seen + buf.length); i++) {
              buf[i - seen] = (buf[i - seen] as number) ^ 0xff;
            }
            seen += buf.length;
            if (!res.write(buf)) {
              upRes.pause();
              res.once('drain', () => upRes.resume());
            }
          });
          upRes.on('end', () => res.end());
          return;
        }
        if (action.kind === 'trickle') {
          const body: Buffer[] = [];
          upRes.on('data', (chunk: Buffer) => body.push(chunk));
          upRes.on('end', () => {
            const all = Buffer.concat(body);
            res.flushHeaders();
            let sent = 0;
            const step = (): void => {
              if (res.destroyed) return;
              if (sent >= all.length) {
                res.end();
                return;
              }
              res.write(all.subarray(sent, sent + 1));
              sent++;
              later(action.intervalMs, step);
            };
            step();
          });
          return;
        }
        // truncate and stall: pass `limit` bytes, then cut or hold.
        const limit =
          action.kind === 'truncate' ? (action.afterBytes ?? (total === undefined ? 0 : Math.floor(total / 2))) : (action.afterBytes ?? 0);
        let state: 'passing' | 'held' | 'released' = 'passing';
        let seen = 0;
        let upstreamEnded = false;
        const pending: Buffer[] = [];
        const cut = (): void => {
          upRes.destroy();
          const socket = res.socket;
          if (socket === null) return;
          // end() flushes what was written, then FIN: the client gets exactly `limit` bytes.
          socket.end();
          later(1000, () => socket.destroy());
        };
        const release = (): void => {
          state = 'released';
          for (const chunk of pending) res.write(chunk);
          pending.length = 0;
          if (upstreamEnded) res.end();
          else upRes.resume();
        };
        const hold = (): void => {
          state = 'held';
          upRes.pause();
          if (action.kind === 'truncate') cut();
          else later(action.seconds * 1000, () => (action.afterStall === 'finish' ? release() : cut()));
        };
        res.flushHeaders();
        if (limit <= 0) hold();
        upRes.on('data', (chunk: Buffer) => {
          if (state === 'released') {
            res.write(chunk);
            return;
          }
          if (state === 'held') {
            pending.push(chunk);
            return;
          }
          const room = limit - seen;
          if (chunk.length < room) {
            seen += chunk.length;
            res.write(chunk);
            return;
          }
          res.write(chunk.subarray(0, room));
          if (chunk.length > room) pending.push(chunk.subarray(room));
          seen = limit;
          hold();
        });
        upRes.on('end', () => {
          upstreamEnded = true;
          if (state !== 'held') res.end();
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`tampering proxy: upstream error: ${err.message}\n`);
      } else {
        res.socket?.destroy();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const rule = pickRule(req);
    const action = rule?.action;
    const record: ProxiedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: { ...req.headers },
      tampered: action === undefined || isBodyAction(action) ? undefined : action.kind,
      status: undefined,
    };
    requests.push(record);
    if (action?.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (action?.kind === 'status') {
      req.resume();
      const body =
        action.body ?? `${JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `injected ${action.status} by tampering proxy` }] })}\n`;
      record.status = action.status;
      res.writeHead(action.status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        ...action.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (action?.kind === 'delay') {
      req.pause();
      later(action.ms, () => forward(req, res, record, undefined));
      return;
    }
    forward(req, res, record, rule);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tampering proxy: no TCP address');
  const port = address.port;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      agent.destroy();
    });
    return stopping;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    target: targetUrl.toString().replace(/\/$/, ''),
    requests,
    tamper(match, action, opts = {}) {
      if (stopped) throw new Error('tampering proxy is stopped');
      const rule: TamperRule = { match, action, method: opts.method, remaining: opts.times ?? Number.POSITIVE_INFINITY, hits: 0 };
      rules.push(rule);
      return rule;
    },
    removeRule(rule) {
      const i = rules.indexOf(rule);
      if (i >= 0) rules.splice(i, 1);
    },
    clearRules() {
      rules.length = 0;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
