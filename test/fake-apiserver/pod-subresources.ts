// pods/binding, pods/eviction and the kubelet proxies pods/log, exec, attach and portforward. The
// proxies reach the node where its Node object says its kubelet listens (InternalIP and
// daemonEndpoints.kubeletEndpoint.Port) over HTTPS with the kubelet client certificate
// (kubelet-client.ts), and answer 500 with the dial error when the node cannot be reached, as the
// API server does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { get } from 'node:https';
import type { Socket } from 'node:net';
import { connect } from 'node:tls';
import { ApiError, notFound } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import { type KubeletClient, kubeletTlsOptions } from './kubelet-client.ts';
import type { ObjectStore } from './object-store.ts';

const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

/** The pod, checked as the API server checks it before proxying: bound, with the container named. */
function proxyTarget(store: ObjectStore, namespace: string, name: string, query: URLSearchParams, needsContainer: boolean) {
  const pod = store.get('pods', namespace, name);
  if (pod === undefined) throw notFound('pods', name);
  const spec = pod.spec as Loose;
  const containers: string[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c: Loose) => c.name);
  let container = query.get('container') ?? '';
  if (needsContainer && container === '') {
    if ((spec.containers ?? []).length !== 1)
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${(spec.containers ?? []).map((c: Loose) => c.name).join(' ')}]`,
      );
    container = spec.containers[0].name;
  }
  if (needsContainer && !containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  if (!spec.nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const node = store.get('nodes', undefined, spec.nodeName);
  const status = (node?.status ?? {}) as Loose;
  const host = ((status.addresses ?? []) as Loose[]).find((a) => a.type === 'InternalIP')?.address;
  const port = status.daemonEndpoints?.kubeletEndpoint?.Port;
  if (host === undefined || !port) throw new ApiError(500, 'InternalError', `node "${spec.nodeName}" has no kubelet endpoint`);
  return { pod, container, host: String(host), port: Number(port) };
}

const KUBELET_PATH: Record<string, string> = { exec: 'exec', attach: 'attach', portforward: 'portForward' };

/** PodExecOptions as the kubelet's query (streamParams): stdin=true becomes input=1, and so on. */
function kubeletStreamQuery(options: URLSearchParams): URLSearchParams {
  const query = new URLSearchParams();
  const flags: [string, string][] = [
    ['stdin', 'input'],
    ['stdout', 'output'],
    ['stderr', 'error'],
    ['tty', 'tty'],
  ];
  for (const [option, param] of flags) if (options.get(option) === 'true' || options.get(option) === '1') query.set(param, '1');
  for (const command of options.getAll('command')) query.append('command', command);
  for (const port of options.getAll('ports')) query.append('port', port);
  return query;
}

/** GET pods/log: the kubelet's /containerLogs, streamed through (`follow` goes on until the client leaves). */
export function podLog(
  store: ObjectStore,
  client: KubeletClient,
  namespace: string,
  name: string,
  query: URLSearchParams,
  res: ServerResponse,
): Promise<void> {
  const { container, host, port } = proxyTarget(store, namespace, name, query, true);
  const rest = new URLSearchParams(query);
  rest.delete('container');
  const url = `https://${host}:${port}/containerLogs/${namespace}/${name}/${container}${rest.size ? `?${rest}` : ''}`;
  return new Promise((resolve, reject) => {
    const upstream = get(url, { timeout: 5000, ...kubeletTlsOptions(client) }, (answer) => {
      res.writeHead(answer.statusCode ?? 500, { 'Content-Type': answer.headers['content-type'] ?? 'text/plain' });
      answer.pipe(res);
      answer.on('end', () => resolve());
      answer.on('error', () => resolve());
    });
    upstream.on('timeout', () => upstream.destroy(new Error('i/o timeout')));
    upstream.on('error', (e) => {
      if (!res.headersSent) reject(new ApiError(500, 'InternalError', `Get "${url}": dial tcp ${host}:${port}: ${e.message}`));
      else res.end();
      resolve();
    });
    res.on('close', () => upstream.destroy());
  });
}

/** exec, attach, portforward: checked, then the upgrade is passed to the kubelet as it is. */
export function proxyUpgrade(
  store: ObjectStore,
  client: KubeletClient,
  sub: string,
  namespace: string,
  name: string,
  url: URL,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  if (sub === 'exec' && url.searchParams.getAll('command').length === 0) throw badRequest('you must specify at least 1 command');
  const { container, host, port } = proxyTarget(store, namespace, name, url.searchParams, sub !== 'portforward');
  const query = kubeletStreamQuery(url.searchParams);
  const path = `/${KUBELET_PATH[sub]}/${namespace}/${name}${sub === 'portforward' ? '' : `/${container}`}?${query}`;
  const upstream = connect({ port, host, ...kubeletTlsOptions(client) });
  upstream.on('secureConnect', () => {
    const headers = Object.entries(req.headers)
      .filter(([k]) => k !== 'authorization' && k !== 'host')
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
    upstream.write([`${req.method} ${path} HTTP/1.1`, `host: ${host}:${port}`, ...headers, '', ''].join('\r\n'));
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', (e) => {
    const body = JSON.stringify(
      new ApiError(500, 'InternalError', `error dialing backend: dial tcp ${host}:${port}: ${e.message}`).status(),
    );
    if (!socket.destroyed)
      socket.end(
        `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
  });
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => upstream.destroy());
}

/** POST pods/eviction: the pod is deleted with the Eviction's delete options (no disruption budgets here). */
export function evict(store: ObjectStore, namespace: string, name: string, body: unknown): ApiObject {
  const eviction = (body ?? {}) as Loose;
  if (eviction.metadata?.name && eviction.metadata.name !== name) throw badRequest(`name in URL does not match name in Eviction object`);
  store.delete('pods', namespace, name, eviction.deleteOptions ?? {});
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}

/** POST pods/binding: the scheduler's assignment of a pod to a node. */
export function bind(store: ObjectStore, namespace: string, name: string, body: unknown): ApiObject {
  const target = ((body ?? {}) as Loose).target as Loose | undefined;
  if (target?.kind !== undefined && target.kind !== 'Node') throw badRequest(`binding target must be a Node, not ${target.kind}`);
  if (!target?.name) throw new ApiError(422, 'Invalid', `Binding "${name}" is invalid: target.name: Required value`);
  store.bind(namespace, name, target.name);
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
