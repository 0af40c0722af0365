// How the CLI reaches a node's API, by the scheme of its address:
//   unix:///PATH         the full API on the node's root-only socket (the default, on the node itself)
//   https://HOST:PORT    the authenticated port, with the client certificate in $BERTH_NODE_CLIENT_CERT
//                        and $BERTH_NODE_CLIENT_KEY; the node's certificate is verified against
//                        $BERTH_NODE_CA when it is set (a node's own certificate is self-signed)
//   http://HOST:PORT     the read-only port: /pods only, so `get pods` and no more
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';
import { invalidArgument, unavailable } from '../../errors/errors.ts';

/** The node's socket under the default root dir. */
export const DEFAULT_NODE_API = 'unix:///var/lib/berth/node/node.sock';

export interface NodeApiEndpoint {
  /** The URL of `path` (which starts with "/") on the node. */
  url(path: string): string;
  /** The connections' agent for http.request, ws and the streaming clients (absent: the default one). */
  agent?: http.Agent;
}

/** Connects every request to one unix socket. */
class UnixSocketAgent extends http.Agent {
  readonly #socketPath: string;
  constructor(socketPath: string) {
    super();
    this.#socketPath = socketPath;
  }
  override createConnection(): net.Socket {
    return net.connect(this.#socketPath);
  }
}

function readEnvFile(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const file = env[name];
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw invalidArgument('bad-flag', `$${name}: ${(e as Error).message}`, { cause: e });
  }
}

export function nodeApiEndpoint(base: string, env: NodeJS.ProcessEnv = process.env): NodeApiEndpoint {
  const url = new URL(base);
  if (url.protocol === 'unix:') {
    const agent = new UnixSocketAgent(decodeURIComponent(url.pathname));
    return { url: (path) => `http://localhost${path}`, agent };
  }
  const origin = base.replace(/\/+$/, '');
  if (url.protocol !== 'https:') return { url: (path) => `${origin}${path}` };
  const cert = readEnvFile(env, 'BERTH_NODE_CLIENT_CERT');
  const key = readEnvFile(env, 'BERTH_NODE_CLIENT_KEY');
  const ca = readEnvFile(env, 'BERTH_NODE_CA');
  // The agent's options win over each request's, so `rejectUnauthorized` here is what holds.
  const agent = new https.Agent({
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(ca ? { ca } : {}),
    rejectUnauthorized: ca !== undefined,
  });
  return { url: (path) => `${origin}${path}`, agent };
}

/** GET `path` on the node, as fetch() answers it (it rejects with an error whose cause is the socket's error). */
export async function nodeApiFetch(base: string, path: string, signal?: AbortSignal): Promise<Response> {
  const endpoint = nodeApiEndpoint(base);
  if (endpoint.agent === undefined) return fetch(endpoint.url(path), { signal });
  const url = endpoint.url(path);
  const request = url.startsWith('https:') ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: endpoint.agent, ...(signal ? { signal } : {}) }, (res) => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
      }
      const status = res.statusCode ?? 500;
      const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }));
    });
    req.once('error', (e) => reject(unavailable('node-api-unreachable', 'fetch failed', { cause: e })));
    req.end();
  });
}
