// A Kubernetes API server in memory, for testing berth node's API-server mode through the real
// client library and the real kubectl. It imports nothing from berth. Each concern has its file:
// storage and watches (object-store.ts), the API's defaults (pod-defaults.ts), ServiceAccount
// admission, the Node authorizer and NodeRestriction, status validation, discovery, tables for
// kubectl, pod subresources, token requests, TokenReview and SubjectAccessReview. Here: HTTPS, bearer
// tokens (an admin, one per node, users with grants of their own), the routes, and faults injected
// for tests of retries.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, methodNotAllowed, notFound, resourceNotFound } from './api-error.ts';
import type { ApiObject } from './api-object.ts';
import { selfSignedCertificate } from './certificate.ts';
import { discovery } from './discovery.ts';
import { ADMIN, type Identity, nodeIdentity, type Verb } from './identity.ts';
import { type KubeletClient, makeKubeletClient } from './kubelet-client.ts';
import { authorize } from './node-authorizer.ts';
import { admitNodeRequest } from './node-restriction.ts';
import { type DeleteOptions, expired, ObjectStore, type ObjectStoreOptions } from './object-store.ts';
import { applyPatchBody } from './patches.ts';
import { bind, evict, podLog, proxyUpgrade } from './pod-subresources.ts';
import { apiVersionOf, prefixOf, type ResourceType, TYPES } from './resource-types.ts';
import { answerSubjectAccessReview, answerTokenReview, REVIEW_TYPES } from './reviews.ts';
import { parseSelector, selectedName } from './selectors.ts';
import { table, wantsTable } from './tables.ts';
import { answerTokenRequest } from './token-request.ts';

export { ApiError } from './api-error.ts';
export type { ApiObject } from './api-object.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  /** Who asked: kubernetes-admin or system:node:NAME. */
  user: string;
  userAgent?: string;
  status: number;
  body?: unknown;
}

export interface Fault {
  method: string;
  pathPattern: RegExp;
  status: number;
  times: number;
}

export interface FakeApiServerOptions extends ObjectStoreOptions {
  /** kube-apiserver's --kubelet-certificate-authority: verify the nodes' serving certificates against it (default: not verified, as there). */
  kubeletCertificateAuthority?: string;
}

const REASONS: Record<number, string> = { 409: 'Conflict', 422: 'Invalid', 429: 'TooManyRequests', 503: 'ServiceUnavailable' };

interface Route {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function parseRoute(path: string): Route {
  const m = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(\/.*)?$/.exec(path);
  if (m === null) throw resourceNotFound();
  let rest = (m[2] ?? '').split('/').filter(Boolean);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const type = TYPES.find((t) => prefixOf(t) === m[1] && t.plural === plural);
  if (type === undefined || extra.length > 0) throw resourceNotFound();
  if (namespace !== undefined && !type.namespaced) throw resourceNotFound();
  if (name !== undefined && type.namespaced && namespace === undefined) throw resourceNotFound();
  if (subresource !== undefined && !type.subresources.includes(subresource)) throw resourceNotFound();
  return {
    type,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  };
}

const VERBS: Record<string, Verb> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export class FakeApiServer extends ObjectStore {
  readonly requests: RecordedRequest[] = [];
  /** Fail the next N requests that match with this status (for tests of retries). */
  readonly faults: Fault[] = [];
  url = '';
  /** The admin's bearer token (system:masters). */
  readonly token = randomBytes(16).toString('hex');
  readonly #identities = new Map<string, Identity>([[this.token, ADMIN]]);
  #server: Server | undefined;
  #certificate = '';
  #kubeletClient: KubeletClient | undefined;
  readonly #kubeletCertificateAuthority: string | undefined;

  constructor(options: FakeApiServerOptions = {}) {
    super(options);
    this.#kubeletCertificateAuthority = options.kubeletCertificateAuthority;
  }

  async start(): Promise<this> {
    const { key, cert } = await selfSignedCertificate();
    const client = await makeKubeletClient();
    this.#kubeletClient = {
      ...client,
      ...(this.#kubeletCertificateAuthority !== undefined ? { kubeletCertificateAuthority: this.#kubeletCertificateAuthority } : {}),
    };
    this.#certificate = cert;
    this.caBundle = cert;
    for (const name of ['default', 'kube-system', 'kube-node-lease', 'kube-public']) this.create('namespaces', { metadata: { name } });
    const server = createServer({ key, cert }, (req, res) => void this.#handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  /** The CA certificate clients trust (also in every namespace's kube-root-ca.crt). */
  get caCertificate(): string {
    return this.#certificate;
  }

  /** The CA of the fake's kubelet client certificate: what a node takes as --client-ca-file. */
  get kubeletClientCA(): string {
    return this.#kubelet.ca;
  }

  /** The certificate and key it reaches kubelet ports with (kube-apiserver-kubelet-client, system:masters). */
  get kubeletClientCertificate(): { cert: string; key: string } {
    return { cert: this.#kubelet.cert, key: this.#kubelet.key };
  }

  get #kubelet(): KubeletClient {
    if (this.#kubeletClient === undefined) throw new Error('the fake API server has not started');
    return this.#kubeletClient;
  }

  /** The bearer token of node `name` (system:node:NAME), held to what the Node authorizer allows. */
  nodeToken(name: string): string {
    for (const [token, identity] of this.#identities) if (identity.node === name) return token;
    const token = randomBytes(16).toString('hex');
    this.#identities.set(token, nodeIdentity(name));
    return token;
  }

  /** A bearer token of user `user`, granted `rules` (resource or resource/subresource → verbs) as an RBAC role would grant them. */
  userToken(user: string, rules: Record<string, Verb[]> = {}, groups: string[] = []): string {
    const token = randomBytes(16).toString('hex');
    this.#identities.set(token, { user, groups: [...groups, 'system:authenticated'], rules });
    return token;
  }

  /** A KubeConfig for this server: its CA certificate and the admin's token, or node `node`'s. */
  kubeConfig(node?: string): KubeConfig {
    const config = new KubeConfig();
    config.loadFromString(this.kubeconfigYaml(node));
    return config;
  }

  kubeconfigYaml(node?: string): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake`,
      '  cluster:',
      `    server: ${this.url}`,
      `    certificate-authority-data: ${Buffer.from(this.#certificate).toString('base64')}`,
      'users:',
      `- name: ${node ? `system:node:${node}` : 'admin'}`,
      '  user:',
      `    token: ${node ? this.nodeToken(node) : this.token}`,
      'contexts:',
      '- name: fake',
      `  context: {cluster: fake, user: "${node ? `system:node:${node}` : 'admin'}"}`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  async close(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => {
      if (this.#server === undefined) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #identity(req: IncomingMessage): Identity | undefined {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    return m ? this.#identities.get(m[1]!) : undefined;
  }

  #injectedFault(method: string, path: string): void {
    const fault = this.faults.find((f) => f.times > 0 && f.method === method && f.pathPattern.test(path));
    if (fault === undefined) return;
    fault.times--;
    throw new ApiError(fault.status, REASONS[fault.status] ?? 'InternalError', `injected failure ${fault.status}`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const identity = this.#identity(req);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      user: identity?.user ?? '',
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      status: 200,
    };
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      if (identity === undefined) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      record.body = body;
      this.#injectedFault(record.method, url.pathname);
      const result = await this.#route(identity, record.method, url, body, req, res);
      if (result === undefined) return; // a watch or a log answers by itself
      this.#json(res, result.code, result.body);
    } catch (e) {
      const error = e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message);
      record.status = error.code;
      if (!res.headersSent) this.#json(res, error.code, error.status());
      else res.end();
    }
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** exec, attach and portforward arrive as upgrades (SPDY or WebSocket). */
  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const identity = this.#identity(req);
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      user: identity?.user ?? '',
      status: 101,
    });
    try {
      if (identity === undefined) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const route = parseRoute(url.pathname.replace(/\/+$/, ''));
      if (route.type.plural !== 'pods' || !['exec', 'attach', 'portforward'].includes(route.subresource ?? '')) throw resourceNotFound();
      this.#authorize(identity, 'create', route);
      proxyUpgrade(this, this.#kubelet, route.subresource!, route.namespace!, route.name!, url, req, socket, head);
    } catch (e) {
      const error = e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message);
      const body = JSON.stringify(error.status());
      socket.end(
        `HTTP/1.1 ${error.code} ${error.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
  }

  #review(plural: string, body: unknown): ApiObject {
    if (plural === 'tokenreviews') return answerTokenReview(body, (token) => this.#identities.get(token));
    const identityOf = (user: string, groups: string[]): Identity => {
      const known = [...this.#identities.values()].find((i) => i.user === user);
      const node = groups.includes('system:nodes') && user.startsWith('system:node:') ? user.slice('system:node:'.length) : undefined;
      return { user, groups, ...(known?.rules ? { rules: known.rules } : {}), ...(node ? { node } : {}) };
    };
    return answerSubjectAccessReview(body, identityOf, (identity, a) => {
      const type = TYPES.find((t) => t.plural === a.resource && t.group === a.group) ?? {
        ...Object.values(REVIEW_TYPES)[0]!,
        plural: a.resource,
        group: a.group,
      };
      const { subresource, namespace, name } = a;
      this.#authorize(
        identity,
        a.verb,
        { type, ...(subresource ? { subresource } : {}), ...(namespace !== undefined ? { namespace } : {}) },
        name,
      );
    });
  }

  #authorize(identity: Identity, verb: Verb, route: Route, name = route.name): void {
    authorize(
      identity,
      {
        verb,
        type: route.type,
        ...(route.subresource ? { subresource: route.subresource } : {}),
        ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
        ...(name !== undefined ? { name } : {}),
      },
      (node) => this.podsOn(node),
    );
  }

  #admit(identity: Identity, verb: Verb, route: Route, name: string, object?: ApiObject): void {
    const old = this.get(route.type.plural, route.namespace, name);
    admitNodeRequest(
      identity,
      {
        verb,
        plural: route.type.plural,
        ...(route.subresource ? { subresource: route.subresource } : {}),
        ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
        name,
        ...(object ? { object } : {}),
        ...(old ? { old } : {}),
      },
      { pod: (ns, n) => this.get('pods', ns, n), node: (n) => this.get('nodes', undefined, n) },
    );
  }

  async #route(
    identity: Identity,
    method: string,
    url: URL,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ code: number; body: unknown } | undefined> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const reviewType = REVIEW_TYPES[path];
    if (reviewType !== undefined) {
      if (method !== 'POST') throw methodNotAllowed();
      this.#authorize(identity, 'create', { type: reviewType });
      return { code: 201, body: this.#review(reviewType.plural, body) };
    }
    if (method === 'GET') {
      const document = discovery(path, this.url.replace(/^https:\/\//, ''));
      if (document !== undefined) return { code: 200, body: document };
    }
    const route = parseRoute(path);
    const { type, namespace, name, subresource } = route;
    const query = url.searchParams;
    if (name === undefined) return this.#collection(identity, method, route, query, body, req, res);
    const verb = method === 'GET' ? 'get' : VERBS[method];
    if (verb === undefined) throw methodNotAllowed();
    if (subresource !== undefined && subresource !== 'status')
      return this.#subresource(identity, method, route as Required<Route>, query, body, res);
    this.#authorize(identity, verb, route);
    const sub = subresource === 'status' ? 'status' : undefined;
    switch (verb) {
      case 'get': {
        const obj = this.get(type.plural, namespace, name);
        if (obj === undefined) throw notFound(type.plural, name);
        return { code: 200, body: obj };
      }
      case 'update':
        this.#admit(identity, verb, route, name, body as ApiObject);
        return { code: 200, body: this.update(type.plural, namespace, name, body as ApiObject, sub) };
      case 'patch': {
        const old = this.get(type.plural, namespace, name);
        if (old === undefined) throw notFound(type.plural, name);
        const patched = applyPatchBody(old, req.headers['content-type'] ?? '', body);
        this.#admit(identity, verb, route, name, patched);
        return { code: 200, body: this.update(type.plural, namespace, name, patched, sub) };
      }
      case 'delete': {
        if (sub) throw methodNotAllowed();
        this.#admit(identity, verb, route, name);
        const opts = (body ?? {}) as DeleteOptions;
        const graceQuery = query.get('gracePeriodSeconds');
        const gracePeriodSeconds = opts.gracePeriodSeconds ?? (graceQuery !== null ? Number(graceQuery) : undefined);
        return {
          code: 200,
          body: this.delete(type.plural, namespace, name, { ...opts, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) }),
        };
      }
      default:
        throw methodNotAllowed();
    }
  }

  #collection(
    identity: Identity,
    method: string,
    route: Route,
    query: URLSearchParams,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    const { type, namespace } = route;
    if (method === 'GET') {
      const selector = parseSelector(type, query);
      const watching = query.get('watch') === 'true' || query.get('watch') === '1';
      this.#authorize(identity, watching ? 'watch' : 'list', route, selectedName(selector));
      if (watching) {
        this.watch(type, namespace, selector, query, res);
        return undefined;
      }
      const from = query.get('resourceVersion') ?? '';
      const continued = query.get('continue');
      if (continued || (query.get('resourceVersionMatch') === 'Exact' && Number(from) < this.compactedResourceVersion)) {
        const at = continued ? Number(Buffer.from(continued, 'base64url').toString()) : Number(from);
        if (at < this.compactedResourceVersion) throw expired(String(at), this.compactedResourceVersion);
      }
      const items = this.list(type.plural, namespace, selector);
      if (wantsTable(req.headers.accept)) return { code: 200, body: table(type, items, this.resourceVersion) };
      return {
        code: 200,
        body: { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: this.resourceVersion }, items },
      };
    }
    if (method !== 'POST' || (type.namespaced && namespace === undefined)) throw methodNotAllowed();
    const obj = (body ?? {}) as ApiObject;
    obj.metadata ??= {};
    if (type.namespaced && obj.metadata.namespace && obj.metadata.namespace !== namespace)
      throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    const input = { ...obj, metadata: { ...obj.metadata, ...(namespace ? { namespace } : {}) } };
    this.#authorize(identity, 'create', route, obj.metadata.name);
    this.#admit(identity, 'create', route, obj.metadata.name ?? '', input);
    return { code: 201, body: this.create(type.plural, input) };
  }

  async #subresource(
    identity: Identity,
    method: string,
    route: Required<Route>,
    query: URLSearchParams,
    body: unknown,
    res: ServerResponse,
  ) {
    const { type, namespace, name, subresource } = route;
    const verb: Verb = subresource === 'log' ? 'get' : 'create';
    const allowed = subresource === 'log' ? ['GET'] : ['exec', 'attach', 'portforward'].includes(subresource) ? ['GET', 'POST'] : ['POST'];
    if (!allowed.includes(method)) throw methodNotAllowed();
    this.#authorize(identity, verb, route);
    if (type.plural === 'serviceaccounts') {
      this.#admit(identity, 'create', route, name, body as ApiObject);
      return { code: 201, body: answerTokenRequest(namespace, name, body, (p, ns, n) => this.get(p, ns, n)) };
    }
    switch (subresource) {
      case 'binding':
        return { code: 201, body: bind(this, namespace, name, body) };
      case 'eviction':
        this.#admit(identity, 'create', route, name);
        return { code: 201, body: evict(this, namespace, name, body) };
      case 'log':
        await podLog(this, this.#kubelet, namespace, name, query, res);
        return undefined; // streamed
      default:
        // exec, attach and portforward need a connection upgrade (SPDY or WebSocket).
        throw new ApiError(400, 'BadRequest', 'Upgrade request required');
    }
  }
}

/** Starts a fake API server on loopback. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  return new FakeApiServer(options).start();
}
