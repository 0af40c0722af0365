// A Kubernetes API server in memory, for testing berth node's API-server mode through the real
// client library. It follows the documented API semantics for what a kubelet uses
// (https://kubernetes.io/docs/reference/using-api/api-concepts/):
//
// - resources: pods (status subresource, graceful deletion), nodes (status subresource),
//   namespaces, secrets, configmaps, services (a cluster IP from 10.96.0.0/16 unless given, or
//   None, or type ExternalName), serviceaccounts with the token subresource (POST a TokenRequest:
//   a new token each time, bound to a pod that must exist with that UID and service account),
//   core/v1 events, coordination.k8s.io/v1 leases;
// - create (409 AlreadyExists; 404 for a namespace that does not exist), get, list, replace (PUT,
//   409 Conflict when metadata.resourceVersion is stale), patch (JSON merge patch and JSON patch;
//   a resourceVersion in the patch is a precondition; other patch types 415), delete with
//   DeleteOptions (gracePeriodSeconds, preconditions on uid and resourceVersion: 409);
// - a UID in a write that is not the object's: 409 Conflict ("Precondition failed");
// - the status subresource changes only status, the main resource never changes status; pod
//   spec is immutable but for images, activeDeadlineSeconds and tolerations (422); a pod's
//   status may not leave a terminal phase (422);
// - graceful deletion of pods bound to a node: deletionTimestamp and deletionGracePeriodSeconds
//   are set (MODIFIED); the pod goes (DELETED) on a delete with grace 0. Unbound or terminal pods
//   go at once;
// - list returns the collection's resourceVersion; watch from a resourceVersion replays what
//   changed after it, filtered by label and field selectors (an object that stops matching is
//   DELETED, one that starts matching ADDED); no resourceVersion (or "0") starts with ADDED
//   for what exists; a resourceVersion older than the history kept gets an ERROR event with a
//   410 Expired Status; bookmarks when allowWatchBookmarks=true; timeoutSeconds ends a watch;
// - field selectors only on the fields the API supports per resource (else 400), with =, ==, !=.
//
// Errors are Status objects with reason and code, as the API sends them. It serves HTTPS with a
// certificate of its own (made with openssl for 127.0.0.1) and wants the bearer token its
// kubeconfig carries (401 otherwise), as a real API server would.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { withPodDefaults } from '../../src/agent/pod-defaults.ts';
import { podQosClass } from '../../src/agent/pod-qos.ts';
import { canonicalJson } from '../../src/agent/static-pods/static-pod-uid.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  [key: string]: unknown;
}

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

interface ResourceType {
  plural: string;
  kind: string;
  apiVersion: string;
  /** The path prefix: /api/v1 or /apis/GROUP/VERSION. */
  prefix: string;
  namespaced: boolean;
  statusSubresource: boolean;
  /** The field selectors the API supports for the type, with their values. */
  fields(obj: ApiObject): Record<string, string>;
}

function metaFields(obj: ApiObject, namespaced: boolean): Record<string, string> {
  return {
    'metadata.name': obj.metadata.name ?? '',
    ...(namespaced ? { 'metadata.namespace': obj.metadata.namespace ?? '' } : {}),
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

const TYPES: ResourceType[] = [
  {
    plural: 'pods',
    kind: 'Pod',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: true,
    fields: (o) => {
      const spec = (o.spec ?? {}) as Record<string, unknown>;
      const status = (o.status ?? {}) as Record<string, unknown>;
      return {
        ...metaFields(o, true),
        'spec.nodeName': str(spec.nodeName),
        'spec.restartPolicy': str(spec.restartPolicy),
        'spec.schedulerName': str(spec.schedulerName),
        'spec.serviceAccountName': str(spec.serviceAccountName),
        'spec.hostNetwork': str(spec.hostNetwork ?? false),
        'status.phase': str(status.phase),
        'status.podIP': str(status.podIP),
        'status.nominatedNodeName': str(status.nominatedNodeName),
      };
    },
  },
  {
    plural: 'nodes',
    kind: 'Node',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: false,
    statusSubresource: true,
    fields: (o) => ({
      ...metaFields(o, false),
      'spec.unschedulable': str(((o.spec ?? {}) as Record<string, unknown>).unschedulable ?? false),
    }),
  },
  {
    plural: 'namespaces',
    kind: 'Namespace',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: false,
    statusSubresource: true,
    fields: (o) => ({ ...metaFields(o, false), 'status.phase': str(((o.status ?? {}) as Record<string, unknown>).phase) }),
  },
  {
    plural: 'secrets',
    kind: 'Secret',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: false,
    fields: (o) => ({ ...metaFields(o, true), type: str(o.type) }),
  },
  {
    plural: 'configmaps',
    kind: 'ConfigMap',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: false,
    fields: (o) => metaFields(o, true),
  },
  {
    plural: 'services',
    kind: 'Service',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: true,
    fields: (o) => metaFields(o, true),
  },
  {
    plural: 'serviceaccounts',
    kind: 'ServiceAccount',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: false,
    fields: (o) => metaFields(o, true),
  },
  {
    plural: 'events',
    kind: 'Event',
    apiVersion: 'v1',
    prefix: '/api/v1',
    namespaced: true,
    statusSubresource: false,
    fields: (o) => {
      const ref = (o.involvedObject ?? {}) as Record<string, unknown>;
      const source = (o.source ?? {}) as Record<string, unknown>;
      return {
        ...metaFields(o, true),
        'involvedObject.kind': str(ref.kind),
        'involvedObject.namespace': str(ref.namespace),
        'involvedObject.name': str(ref.name),
        'involvedObject.uid': str(ref.uid),
        'involvedObject.apiVersion': str(ref.apiVersion),
        'involvedObject.resourceVersion': str(ref.resourceVersion),
        'involvedObject.fieldPath': str(ref.fieldPath),
        reason: str(o.reason),
        reportingComponent: str(o.reportingComponent),
        source: str(source.component),
        type: str(o.type),
      };
    },
  },
  {
    plural: 'leases',
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    prefix: '/apis/coordination.k8s.io/v1',
    namespaced: true,
    statusSubresource: false,
    fields: (o) => metaFields(o, true),
  },
];

interface Selector {
  fields: { key: string; op: '=' | '!='; value: string }[];
  labels: ((labels: Record<string, string>) => boolean)[];
}

function parseFieldSelector(type: ResourceType, text: string | null): Selector['fields'] {
  if (!text) return [];
  const supported = Object.keys(type.fields({ metadata: {} }));
  return text.split(',').map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (m === null) throw new ApiError(400, 'BadRequest', `invalid field selector: ${JSON.stringify(term)}`);
    const key = m[1]!.trim();
    if (!supported.includes(key)) throw new ApiError(400, 'BadRequest', `field label not supported: ${key}`);
    return { key, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() };
  });
}

function parseLabelSelector(text: string | null): Selector['labels'] {
  if (!text) return [];
  return text.split(',').map((raw) => {
    const term = raw.trim();
    let m = /^!([\w./-]+)$/.exec(term);
    if (m) return (l) => !(m![1]! in l);
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    m = /^([\w./-]+)$/.exec(term);
    if (m) return (l) => m![1]! in l;
    throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(term)}`);
  });
}

function matches(type: ResourceType, selector: Selector, obj: ApiObject): boolean {
  const fields = type.fields(obj);
  for (const f of selector.fields) if ((fields[f.key] === f.value) !== (f.op === '=')) return false;
  return selector.labels.every((test) => test(obj.metadata.labels ?? {}));
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** RFC 6902 JSON patch: add, remove, replace, test. */
function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'a JSON patch must be a list of operations');
  const doc = clone(target) as Json;
  for (const op of ops as { op: string; path: string; value?: Json }[]) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop();
    let parent: Json = doc;
    for (const p of parts) {
      parent = (parent as Record<string, Json>)?.[p] as Json;
      if (parent === undefined || parent === null) throw new ApiError(422, 'Invalid', `the path ${op.path} does not exist`);
    }
    if (last === undefined) throw new ApiError(422, 'Invalid', 'cannot patch the whole document');
    const container = parent as Record<string, Json> & Json[];
    const index = Array.isArray(container) ? (last === '-' ? container.length : Number(last)) : undefined;
    switch (op.op) {
      case 'add':
        if (index !== undefined) container.splice(index, 0, op.value!);
        else container[last] = op.value!;
        break;
      case 'replace':
        if (!(last in container)) throw new ApiError(422, 'Invalid', `the path ${op.path} does not exist`);
        container[index ?? last] = op.value!;
        break;
      case 'remove':
        if (index !== undefined) container.splice(index, 1);
        else delete container[last];
        break;
      case 'test':
        if (JSON.stringify(container[index ?? last]) !== JSON.stringify(op.value))
          throw new ApiError(422, 'Invalid', `testing value ${op.path} failed`);
        break;
      default:
        throw new ApiError(422, 'Invalid', `unsupported JSON patch operation ${op.op}`);
    }
  }
  return doc;
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  object: ApiObject;
  old?: ApiObject;
}

interface Watcher {
  type: ResourceType;
  namespace?: string;
  selector: Selector;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  status: number;
  body?: unknown;
}

export interface FakeApiServerOptions {
  /** How often watches that asked for them get a bookmark. Default 1 s. */
  bookmarkIntervalMs?: number;
  /** Events kept for watches to resume from; older versions get 410 Gone. Default 1000. */
  historyLimit?: number;
}

const POD_SPEC_MUTABLE = ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds'];

export class FakeApiServer {
  readonly #options: FakeApiServerOptions;
  readonly #objects = new Map<string, ApiObject>();
  #history: HistoryEvent[] = [];
  /** Versions at or below this are gone from the history. */
  #compactedRv = 0;
  #rv = 1;
  readonly #watchers = new Set<Watcher>();
  #held: (() => void)[] | undefined;
  readonly requests: RecordedRequest[] = [];
  #server: Server | undefined;
  url = '';
  /** The bearer token clients must send. */
  readonly token = randomBytes(16).toString('hex');
  #certificate = '';
  /** Fail the next N requests that match with this status (for tests of retries). */
  readonly faults: { method: string; pathPattern: RegExp; status: number; times: number }[] = [];

  constructor(options: FakeApiServerOptions = {}) {
    this.#options = options;
    for (const name of ['default', 'kube-system', 'kube-node-lease', 'kube-public']) {
      this.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
    }
  }

  async start(): Promise<this> {
    const { key, cert } = await selfSignedCertificate();
    this.#certificate = cert;
    const server = createServer({ key, cert }, (req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  /** A KubeConfig for this server: its CA certificate and a bearer token. */
  kubeConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromString(this.kubeconfigYaml());
    return config;
  }

  kubeconfigYaml(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake`,
      '  cluster:',
      `    server: ${this.url}`,
      `    certificate-authority-data: ${Buffer.from(this.#certificate).toString('base64')}`,
      'users:',
      '- name: node',
      '  user:',
      `    token: ${this.token}`,
      'contexts:',
      '- name: fake',
      '  context: {cluster: fake, user: node}',
      'current-context: fake',
      '',
    ].join('\n');
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) this.#endWatch(w);
    await new Promise<void>((resolve) => {
      if (this.#server === undefined) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Storage

  #type(plural: string): ResourceType {
    const type = TYPES.find((t) => t.plural === plural);
    if (type === undefined) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return type;
  }

  #key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.plural}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  #notFound(type: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`, { name, kind: type.plural });
  }

  #record(type: 'ADDED' | 'MODIFIED' | 'DELETED', plural: string, object: ApiObject, old?: ApiObject): void {
    const event: HistoryEvent = {
      rv: Number(object.metadata.resourceVersion),
      type,
      plural,
      object: clone(object),
      ...(old ? { old: clone(old) } : {}),
    };
    this.#history.push(event);
    const limit = this.#options.historyLimit ?? 1000;
    while (this.#history.length > limit) this.#compactedRv = this.#history.shift()!.rv;
    for (const w of this.#watchers) this.#deliver(w, event);
  }

  /** Forgets every change so far: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  /** Ends every open watch (as an API server restart or a load balancer would). */
  closeWatches(): void {
    for (const w of this.#watchers) this.#endWatch(w);
  }

  /** Holds new watch requests unanswered until releaseWatches() (to make changes while no client watches). */
  holdWatches(): void {
    this.#held ??= [];
  }

  releaseWatches(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const start of held) start();
  }

  get watchCount(): number {
    return this.#watchers.size;
  }

  get(plural: string, namespace: string | undefined, name: string): ApiObject | undefined {
    const type = this.#type(plural);
    const obj = this.#objects.get(this.#key(type, namespace, name));
    return obj === undefined ? undefined : clone(obj);
  }

  list(plural: string, namespace?: string): ApiObject[] {
    const type = this.#type(plural);
    return [...this.#objects.values()]
      .filter((o) => o.kind === type.kind && (namespace === undefined || o.metadata.namespace === namespace))
      .map(clone);
  }

  create(plural: string, input: ApiObject): ApiObject {
    const type = this.#type(plural);
    const obj = clone(input) as ApiObject;
    obj.metadata ??= {};
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
    const name = obj.metadata.name;
    if (!name) throw new ApiError(422, 'Invalid', `${type.kind} "": metadata.name: Required value: name or generateName is required`);
    if (type.namespaced) {
      obj.metadata.namespace ||= 'default';
      if (!this.#objects.has(this.#key(this.#type('namespaces'), undefined, obj.metadata.namespace))) {
        throw new ApiError(404, 'NotFound', `namespaces "${obj.metadata.namespace}" not found`, {
          name: obj.metadata.namespace,
          kind: 'namespaces',
        });
      }
    } else delete obj.metadata.namespace;
    const key = this.#key(type, obj.metadata.namespace, name);
    if (this.#objects.has(key)) {
      throw new ApiError(409, 'AlreadyExists', `${type.plural} "${name}" already exists`, { name, kind: type.plural });
    }
    obj.apiVersion = type.apiVersion;
    obj.kind = type.kind;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    if (type.kind === 'Service') this.#allocateClusterIP(obj);
    if (type.kind === 'Pod') {
      const pod = withPodDefaults(obj as unknown as Pod) as unknown as ApiObject;
      Object.assign(obj, pod);
      obj.status = { phase: 'Pending', qosClass: podQosClass((obj as unknown as Pod).spec) };
    }
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, obj);
    this.#record('ADDED', plural, obj);
    return clone(obj);
  }

  #nextClusterIP = 1;

  /** The API server's cluster IP allocation (ClusterIP, NodePort and LoadBalancer services). */
  #allocateClusterIP(service: ApiObject): void {
    service.spec ??= {};
    const spec = service.spec as Record<string, unknown>;
    if (spec.type === 'ExternalName' || spec.clusterIP) return;
    const n = this.#nextClusterIP++;
    spec.clusterIP = `10.96.${Math.floor(n / 256)}.${n % 256}`;
    spec.clusterIPs = [spec.clusterIP];
  }

  /** serviceaccounts/{name}/token: a TokenRequest answered with a new token (a JWT of no signature worth checking). */
  #tokenRequest(namespace: string, name: string, body: unknown): ApiObject {
    const account = this.get('serviceaccounts', namespace, name);
    if (account === undefined)
      throw new ApiError(404, 'NotFound', `serviceaccounts "${name}" not found`, { name, kind: 'serviceaccounts' });
    const request = (body ?? {}) as { spec?: Record<string, unknown> };
    const spec = { ...(request.spec ?? {}) } as {
      audiences?: string[];
      expirationSeconds?: number;
      boundObjectRef?: { kind?: string; apiVersion?: string; name?: string; uid?: string };
    };
    const invalid = (field: string, value: unknown, detail: string) =>
      new ApiError(
        422,
        'Invalid',
        `TokenRequest.authentication.k8s.io "${name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`,
      );
    spec.expirationSeconds ??= 3600;
    if (spec.expirationSeconds < 600)
      throw invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 10 minutes');
    if (spec.expirationSeconds > 2 ** 32)
      throw invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration larger than 2^32 seconds');
    if (!spec.audiences || spec.audiences.length === 0) spec.audiences = ['https://kubernetes.default.svc.cluster.local'];
    const ref = spec.boundObjectRef;
    let podClaim: Record<string, string> | undefined;
    if (ref !== undefined) {
      if (ref.kind !== 'Pod') throw new ApiError(400, 'BadRequest', `cannot bind token to object of type ${ref.kind}`);
      const pod = this.get('pods', namespace, ref.name ?? '');
      if (pod === undefined) throw new ApiError(404, 'NotFound', `pods "${ref.name}" not found`, { name: ref.name, kind: 'pods' });
      if (ref.uid && ref.uid !== pod.metadata.uid) {
        throw new ApiError(
          409,
          'Conflict',
          `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
        );
      }
      if ((pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName !== name) {
        throw new ApiError(
          400,
          'BadRequest',
          `cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`,
        );
      }
      podClaim = { name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
    }
    const issuedAt = Math.floor(Date.now() / 1000);
    const exp = issuedAt + spec.expirationSeconds;
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const claims = {
      aud: spec.audiences,
      exp,
      iat: issuedAt,
      iss: 'https://kubernetes.default.svc.cluster.local',
      jti: randomUUID(),
      sub: `system:serviceaccount:${namespace}:${name}`,
      'kubernetes.io': { namespace, serviceaccount: { name, uid: account.metadata.uid }, ...(podClaim ? { pod: podClaim } : {}) },
    };
    const token = `${part({ alg: 'RS256', kid: 'fake' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace, creationTimestamp: now() },
      spec,
      status: { token, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') },
    } as unknown as ApiObject;
  }

  /** Replaces an object (PUT), or its status (subresource 'status'). */
  update(plural: string, namespace: string | undefined, name: string, input: ApiObject, subresource?: 'status'): ApiObject {
    const type = this.#type(plural);
    const key = this.#key(type, namespace, name);
    const old = this.#objects.get(key);
    if (old === undefined) throw this.#notFound(type, name);
    if (subresource === 'status' && !type.statusSubresource)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const given = input.metadata ?? {};
    if (given.name !== undefined && given.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${given.name}) does not match the name on the URL (${name})`);
    }
    if (given.uid && given.uid !== old.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${name}": Precondition failed: UID in precondition: ${given.uid}, UID in object meta: ${old.metadata.uid}`,
        {
          name,
          kind: type.plural,
        },
      );
    }
    if (given.resourceVersion && given.resourceVersion !== old.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: type.plural },
      );
    }
    let next: ApiObject;
    if (subresource === 'status') {
      next = { ...clone(old), status: clone(input.status) };
      if (type.kind === 'Pod') {
        const from = (old.status as { phase?: string } | undefined)?.phase;
        const to = (next.status as { phase?: string } | undefined)?.phase;
        if ((from === 'Succeeded' || from === 'Failed') && to !== from) {
          throw new ApiError(
            422,
            'Invalid',
            `Pod "${name}" is invalid: status.phase: Forbidden: cannot transition from terminal phase ${from} to ${to}`,
          );
        }
      }
    } else {
      next = clone(input);
      next.apiVersion = type.apiVersion;
      next.kind = type.kind;
      next.metadata = {
        ...given,
        name,
        ...(type.namespaced ? { namespace: old.metadata.namespace } : {}),
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        generation: old.metadata.generation,
        ...(old.metadata.deletionTimestamp
          ? { deletionTimestamp: old.metadata.deletionTimestamp, deletionGracePeriodSeconds: old.metadata.deletionGracePeriodSeconds }
          : {}),
      };
      if (type.statusSubresource) next.status = clone(old.status);
      if (type.kind === 'Pod') this.#checkPodSpecUpdate(name, old, next);
      if (canonicalJson(next.spec ?? null) !== canonicalJson(old.spec ?? null))
        next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    next.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, next);
    this.#record('MODIFIED', plural, next, old);
    return clone(next);
  }

  #checkPodSpecUpdate(name: string, old: ApiObject, next: ApiObject): void {
    const mask = (spec: unknown) => {
      const s = clone((spec ?? {}) as Record<string, unknown>);
      for (const field of POD_SPEC_MUTABLE) delete s[field];
      for (const list of ['containers', 'initContainers']) {
        for (const c of (s[list] as Record<string, unknown>[] | undefined) ?? []) delete c.image;
      }
      return canonicalJson(s);
    };
    if (mask(old.spec) !== mask(next.spec)) {
      throw new ApiError(
        422,
        'Invalid',
        `Pod "${name}" is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`, \`spec.initContainers[*].image\`, \`spec.activeDeadlineSeconds\`, \`spec.tolerations\` (only additions to existing tolerations) or \`spec.terminationGracePeriodSeconds\``,
      );
    }
  }

  patch(
    plural: string,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patch: unknown,
    subresource?: 'status',
  ): ApiObject {
    const type = this.#type(plural);
    const old = this.#objects.get(this.#key(type, namespace, name));
    if (old === undefined) throw this.#notFound(type, name);
    let patched: ApiObject;
    const media = contentType.split(';')[0]!.trim();
    if (media === 'application/merge-patch+json') patched = mergePatch(clone(old), patch) as ApiObject;
    else if (media === 'application/json-patch+json') patched = jsonPatch(old, patch) as ApiObject;
    else
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
      );
    // A resourceVersion or uid in the patch is a precondition; the rest is an update.
    return this.update(plural, namespace, name, patched, subresource);
  }

  /**
   * Deletes as the API does. Pods bound to a node and not finished are deleted gracefully first:
   * deletionTimestamp set, gone on a later delete with grace 0.
   */
  delete(
    plural: string,
    namespace: string | undefined,
    name: string,
    options: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } } = {},
  ): ApiObject {
    const type = this.#type(plural);
    const key = this.#key(type, namespace, name);
    const old = this.#objects.get(key);
    if (old === undefined) throw this.#notFound(type, name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
        {
          name,
          kind: type.plural,
        },
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
        {
          name,
          kind: type.plural,
        },
      );
    }
    if (type.kind === 'Pod') {
      const spec = (old.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
      const phase = (old.status as { phase?: string } | undefined)?.phase;
      let grace = options.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      const current = old.metadata.deletionGracePeriodSeconds;
      if (grace > 0 && (current === undefined || grace < current)) {
        const next = clone(old);
        next.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
        next.metadata.deletionGracePeriodSeconds = grace;
        next.metadata.generation = (old.metadata.generation ?? 1) + 1;
        next.metadata.resourceVersion = String(++this.#rv);
        this.#objects.set(key, next);
        this.#record('MODIFIED', plural, next, old);
        return clone(next);
      }
      if (grace > 0) return clone(old); // already deleting within a shorter grace period
    }
    this.#objects.delete(key);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record('DELETED', plural, gone, old);
    return gone;
  }

  // -------------------------------------------------------------------------------------------
  // Watches

  #send(w: Watcher, event: unknown): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify(event)}\n`);
  }

  #deliver(w: Watcher, event: HistoryEvent): void {
    if (event.plural !== w.type.plural) return;
    const inScope = (o: ApiObject | undefined) =>
      o !== undefined && (w.namespace === undefined || o.metadata.namespace === w.namespace) && matches(w.type, w.selector, o);
    const now = event.type !== 'DELETED' && inScope(event.object);
    const before = event.type === 'ADDED' ? false : inScope(event.old);
    if (event.type === 'DELETED') {
      if (before) this.#send(w, { type: 'DELETED', object: event.object });
    } else if (now && before) this.#send(w, { type: 'MODIFIED', object: event.object });
    else if (now) this.#send(w, { type: 'ADDED', object: event.object });
    else if (before) this.#send(w, { type: 'DELETED', object: event.object });
  }

  #endWatch(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    this.#watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  #watch(type: ResourceType, namespace: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    if (this.#held !== undefined) {
      this.#held.push(() => this.#watch(type, namespace, query, res));
      return;
    }
    const selector: Selector = {
      fields: parseFieldSelector(type, query.get('fieldSelector')),
      labels: parseLabelSelector(query.get('labelSelector')),
    };
    const from = query.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { type, namespace, selector, res, timers: [] };
    if (from !== '' && from !== '0' && Number(from) < this.#compactedRv) {
      this.#send(w, {
        type: 'ERROR',
        object: new ApiError(410, 'Expired', `too old resource version: ${from} (${this.#compactedRv})`).status(),
      });
      res.end();
      return;
    }
    this.#watchers.add(w);
    res.on('close', () => this.#endWatch(w));
    if (from === '' || from === '0') {
      for (const obj of this.#objects.values()) {
        if (obj.kind === type.kind && (namespace === undefined || obj.metadata.namespace === namespace) && matches(type, selector, obj)) {
          this.#send(w, { type: 'ADDED', object: obj });
        }
      }
    } else {
      for (const event of this.#history) if (event.rv > Number(from)) this.#deliver(w, event);
    }
    if (query.get('allowWatchBookmarks') === 'true') {
      const interval = setInterval(() => {
        this.#send(w, {
          type: 'BOOKMARK',
          object: { kind: type.kind, apiVersion: type.apiVersion, metadata: { resourceVersion: String(this.#rv) } },
        });
      }, this.#options.bookmarkIntervalMs ?? 1000);
      w.timers.push(interval);
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) w.timers.push(setTimeout(() => this.#endWatch(w), timeout * 1000));
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      status: 200,
    };
    this.requests.push(record);
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      record.status = 401;
      this.#json(res, 401, new ApiError(401, 'Unauthorized', 'Unauthorized').status());
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      record.body = body;
      const fault = this.faults.find((f) => f.times > 0 && f.method === record.method && f.pathPattern.test(url.pathname));
      if (fault !== undefined) {
        fault.times--;
        throw new ApiError(fault.status, fault.status === 409 ? 'Conflict' : 'InternalError', `injected failure ${fault.status}`);
      }
      const result = this.#route(record.method, url, body, record.contentType ?? '', res);
      if (result === undefined) return; // a watch answers by itself
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

  #route(method: string, url: URL, body: unknown, contentType: string, res: ServerResponse): { code: number; body: unknown } | undefined {
    const path = url.pathname.replace(/\/+$/, '');
    const type = TYPES.find((t) => path === `${t.prefix}/${t.plural}` || path.startsWith(`${t.prefix}/`));
    let rest: string[];
    let prefix: string;
    if (path.startsWith('/api/v1')) {
      prefix = '/api/v1';
      rest = path.slice('/api/v1'.length).split('/').filter(Boolean);
    } else {
      const m = /^(\/apis\/[^/]+\/[^/]+)(\/.*)?$/.exec(path);
      if (m === null || type === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      prefix = m[1]!;
      rest = (m[2] ?? '').split('/').filter(Boolean);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    const resource = TYPES.find((t) => t.prefix === prefix && t.plural === plural);
    if (resource === undefined || extra.length > 0) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !resource.namespaced)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (resource.plural === 'serviceaccounts' && subresource === 'token' && namespace !== undefined && name !== undefined) {
      if (method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return { code: 201, body: this.#tokenRequest(namespace, name, body) };
    }
    if (subresource !== undefined && (subresource !== 'status' || !resource.statusSubresource)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const query = url.searchParams;
    if (name === undefined) {
      if (method === 'GET') {
        if (query.get('watch') === 'true' || query.get('watch') === '1') {
          this.#watch(resource, namespace, query, res);
          return undefined;
        }
        const selector: Selector = {
          fields: parseFieldSelector(resource, query.get('fieldSelector')),
          labels: parseLabelSelector(query.get('labelSelector')),
        };
        const items = [...this.#objects.values()].filter(
          (o) =>
            o.kind === resource.kind && (namespace === undefined || o.metadata.namespace === namespace) && matches(resource, selector, o),
        );
        return {
          code: 200,
          body: { kind: `${resource.kind}List`, apiVersion: resource.apiVersion, metadata: { resourceVersion: String(this.#rv) }, items },
        };
      }
      if (method === 'POST') {
        if (resource.namespaced && namespace === undefined)
          throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const obj = body as ApiObject;
        if (resource.namespaced && obj.metadata?.namespace && obj.metadata.namespace !== namespace) {
          throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        return {
          code: 201,
          body: this.create(resource.plural, { ...obj, metadata: { ...obj.metadata, ...(namespace ? { namespace } : {}) } }),
        };
      }
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    if (resource.namespaced && namespace === undefined)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const sub = subresource === 'status' ? 'status' : undefined;
    switch (method) {
      case 'GET': {
        const obj = this.get(resource.plural, namespace, name);
        if (obj === undefined) throw this.#notFound(resource, name);
        return { code: 200, body: obj };
      }
      case 'PUT':
        return { code: 200, body: this.update(resource.plural, namespace, name, body as ApiObject, sub) };
      case 'PATCH':
        return { code: 200, body: this.patch(resource.plural, namespace, name, contentType, body, sub) };
      case 'DELETE': {
        if (sub) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const opts = (body ?? {}) as { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } };
        const graceQuery = query.get('gracePeriodSeconds');
        const gracePeriodSeconds = opts.gracePeriodSeconds ?? (graceQuery !== null ? Number(graceQuery) : undefined);
        return {
          code: 200,
          body: this.delete(resource.plural, namespace, name, {
            ...opts,
            ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
          }),
        };
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }
}

const run = promisify(execFile);

/** A key and a self-signed certificate for 127.0.0.1 (openssl). */
async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-fake-apiserver-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=kube-apiserver',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts a fake API server on loopback. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  return new FakeApiServer(options).start();
}
