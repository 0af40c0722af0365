// The storage and watch semantics of the API (https://kubernetes.io/docs/reference/using-api/api-concepts/):
// create (409 AlreadyExists; 404 for a namespace that does not exist), get, list, replace (409
// Conflict on a stale resourceVersion or another uid), patch, delete with preconditions and pods'
// graceful deletion; every change gets a resourceVersion and goes to the watches, which replay
// from a resourceVersion in the history kept (older ones are 410 Expired).

import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { ApiError, conflict, notFound, resourceNotFound } from './api-error.ts';
import { type ApiObject, canonicalJson, clone, type Loose, now } from './api-object.ts';
import { applyPatchBody } from './patches.ts';
import { defaultPod, qosClass } from './pod-defaults.ts';
import { apiVersionOf, hasStatus, type ResourceType, TYPES } from './resource-types.ts';
import { matches, type Selector } from './selectors.ts';
import { admitServiceAccount, nameSuffix } from './service-account-admission.ts';
import { validateNodeStatus, validatePodStatusUpdate } from './status-validation.ts';

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

export interface ObjectStoreOptions {
  /** How often watches that asked for them get a bookmark. Default 1 s. */
  bookmarkIntervalMs?: number;
  /** Events kept for watches to resume from; older versions get 410 Gone. Default 1000. */
  historyLimit?: number;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const POD_SPEC_MUTABLE = ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds'];

export const typeOf = (plural: string): ResourceType => {
  const type = TYPES.find((t) => t.plural === plural);
  if (type === undefined) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
  return type;
};

export const expired = (from: string, compacted: number) =>
  new ApiError(
    410,
    'Expired',
    `The provided continue parameter is too old to display a consistent list result. too old resource version: ${from} (${compacted})`,
  );

export class ObjectStore {
  readonly #options: ObjectStoreOptions;
  readonly #objects = new Map<string, ApiObject>();
  #history: HistoryEvent[] = [];
  /** Versions at or below this are gone from the history. */
  #compactedRv = 0;
  #rv = 1;
  readonly #watchers = new Set<Watcher>();
  #held: (() => void)[] | undefined;
  #nextClusterIP = 1;
  /** The CA bundle the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt. */
  protected caBundle = '';

  constructor(options: ObjectStoreOptions = {}) {
    this.#options = options;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  #key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.plural}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  #record(type: HistoryEvent['type'], plural: string, object: ApiObject, old?: ApiObject): void {
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

  /** Forgets every change so far: a watch or list from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  get(plural: string, namespace: string | undefined, name: string): ApiObject | undefined {
    const type = typeOf(plural);
    const obj = this.#objects.get(this.#key(type, namespace, name));
    return obj === undefined ? undefined : clone(obj);
  }

  list(plural: string, namespace?: string, selector?: Selector): ApiObject[] {
    const type = typeOf(plural);
    return [...this.#objects.values()]
      .filter((o) => o.kind === type.kind && (namespace === undefined || o.metadata.namespace === namespace))
      .filter((o) => selector === undefined || matches(type, selector, o))
      .map(clone);
  }

  /** Pods bound to `node` (the Node authorizer's graph). */
  podsOn(node: string): ApiObject[] {
    return [...this.#objects.values()].filter((o) => o.kind === 'Pod' && (o.spec as Loose)?.nodeName === node);
  }

  create(plural: string, input: ApiObject): ApiObject {
    const type = typeOf(plural);
    const obj = clone(input);
    obj.metadata ??= {};
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${nameSuffix()}`;
    const name = obj.metadata.name;
    if (!name) throw new ApiError(422, 'Invalid', `${type.kind} "": metadata.name: Required value: name or generateName is required`);
    if (type.namespaced) {
      obj.metadata.namespace ||= 'default';
      if (!this.#objects.has(this.#key(typeOf('namespaces'), undefined, obj.metadata.namespace)))
        throw notFound('namespaces', obj.metadata.namespace);
    } else delete obj.metadata.namespace;
    const key = this.#key(type, obj.metadata.namespace, name);
    if (this.#objects.has(key))
      throw new ApiError(409, 'AlreadyExists', `${type.plural} "${name}" already exists`, { name, kind: type.plural });
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    if (type.kind === 'Service') this.#allocateClusterIP(obj);
    if (type.kind === 'Pod') {
      defaultPod(obj);
      admitServiceAccount(obj, (account) => this.get('serviceaccounts', obj.metadata.namespace, account));
      obj.status = { phase: 'Pending', qosClass: qosClass(obj.spec as Loose) };
    }
    if (type.kind === 'Namespace') obj.status ??= { phase: 'Active' };
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, obj);
    this.#record('ADDED', plural, obj);
    if (type.kind === 'Namespace') this.#namespaceControllers(name);
    return clone(obj);
  }

  /** What the serviceaccounts controller and the root-ca-cert-publisher make in a new namespace. */
  #namespaceControllers(namespace: string): void {
    this.create('serviceaccounts', { metadata: { name: 'default', namespace } });
    this.create('configmaps', { metadata: { name: 'kube-root-ca.crt', namespace }, data: { 'ca.crt': this.caBundle } });
  }

  /** The API server's cluster IP allocation (ClusterIP, NodePort and LoadBalancer services). */
  #allocateClusterIP(service: ApiObject): void {
    service.spec ??= {};
    const spec = service.spec as Loose;
    if (spec.type === 'ExternalName' || spec.clusterIP) return;
    const n = this.#nextClusterIP++;
    spec.clusterIP = `10.96.${Math.floor(n / 256)}.${n % 256}`;
    spec.clusterIPs = [spec.clusterIP];
  }

  #current(type: ResourceType, namespace: string | undefined, name: string): ApiObject {
    const old = this.#objects.get(this.#key(type, namespace, name));
    if (old === undefined) throw notFound(type.plural, name);
    return old;
  }

  /** Replaces an object (PUT), or its status (subresource 'status'). */
  update(plural: string, namespace: string | undefined, name: string, input: ApiObject, subresource?: 'status'): ApiObject {
    const type = typeOf(plural);
    const old = this.#current(type, namespace, name);
    if (subresource === 'status' && !hasStatus(type)) throw resourceNotFound();
    const given = input.metadata ?? {};
    if (given.name !== undefined && given.name !== name)
      throw new ApiError(400, 'BadRequest', `the name of the object (${given.name}) does not match the name on the URL (${name})`);
    if (given.uid && given.uid !== old.metadata.uid)
      throw conflict(type.plural, name, `Precondition failed: UID in precondition: ${given.uid}, UID in object meta: ${old.metadata.uid}`);
    if (given.resourceVersion && given.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(type.plural, name, 'the object has been modified; please apply your changes to the latest version and try again');
    let next: ApiObject;
    if (subresource === 'status') {
      next = { ...clone(old), status: clone(input.status) };
      if (type.kind === 'Pod') {
        // The QoS class is set at creation; a status without one keeps it (old kubelets dropped it).
        const status = (next.status ?? {}) as Loose;
        status.qosClass ??= (old.status as Loose | undefined)?.qosClass;
        next.status = status;
        validatePodStatusUpdate(next, old);
      }
      if (type.kind === 'Node') validateNodeStatus(next);
    } else {
      next = clone(input);
      next.apiVersion = apiVersionOf(type);
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
      if (hasStatus(type)) next.status = clone(old.status);
      if (type.kind === 'Pod') checkPodSpecUpdate(name, old, next);
      if (canonicalJson(next.spec ?? null) !== canonicalJson(old.spec ?? null))
        next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    return this.#replace(type, next, old);
  }

  #replace(type: ResourceType, next: ApiObject, old: ApiObject): ApiObject {
    next.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(this.#key(type, old.metadata.namespace, old.metadata.name ?? ''), next);
    this.#record('MODIFIED', type.plural, next, old);
    return clone(next);
  }

  patch(
    plural: string,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patch: unknown,
    subresource?: 'status',
  ): ApiObject {
    const type = typeOf(plural);
    const patched = applyPatchBody(this.#current(type, namespace, name), contentType, patch);
    // A resourceVersion or uid in the patch is a precondition; the rest is an update.
    return this.update(plural, namespace, name, patched, subresource);
  }

  /** pods/binding: assigns an unbound pod to a node, and marks it scheduled. */
  bind(namespace: string, name: string, nodeName: string): void {
    const type = typeOf('pods');
    const old = this.#current(type, namespace, name);
    const bound = (old.spec as Loose).nodeName;
    if (bound) throw conflict('pods', name, `pod ${name} is already assigned to node "${bound}"`);
    if (old.metadata.deletionTimestamp) throw conflict('pods', name, `pod ${name} is being deleted, cannot be assigned to a host`);
    const next = clone(old);
    (next.spec as Loose).nodeName = nodeName;
    next.status ??= {};
    const status = next.status as Loose;
    status.conditions = [
      ...((status.conditions ?? []) as Loose[]).filter((c) => c.type !== 'PodScheduled'),
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() },
    ];
    this.#replace(type, next, old);
  }

  /**
   * Deletes as the API does. Pods bound to a node and not finished are deleted gracefully first:
   * deletionTimestamp set, gone on a later delete with grace 0.
   */
  delete(plural: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): ApiObject {
    const type = typeOf(plural);
    const old = this.#current(type, namespace, name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid)
      throw conflict(type.plural, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(
        type.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    if (type.kind === 'Pod') {
      const spec = (old.spec ?? {}) as Loose;
      const phase = (old.status as Loose | undefined)?.phase;
      let grace: number = options.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      const current = old.metadata.deletionGracePeriodSeconds;
      if (grace > 0 && (current === undefined || grace < current)) {
        const next = clone(old);
        next.metadata.deletionTimestamp = now(Date.now() + grace * 1000);
        next.metadata.deletionGracePeriodSeconds = grace;
        next.metadata.generation = (old.metadata.generation ?? 1) + 1;
        return this.#replace(type, next, old);
      }
      if (grace > 0) return clone(old); // already deleting within a shorter grace period
    }
    this.#objects.delete(this.#key(type, namespace, name));
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
    const nowIn = event.type !== 'DELETED' && inScope(event.object);
    const before = event.type === 'ADDED' ? false : inScope(event.old);
    if (event.type === 'DELETED') {
      if (before) this.#send(w, { type: 'DELETED', object: event.object });
    } else if (nowIn && before) this.#send(w, { type: 'MODIFIED', object: event.object });
    else if (nowIn) this.#send(w, { type: 'ADDED', object: event.object });
    else if (before) this.#send(w, { type: 'DELETED', object: event.object });
  }

  #endWatch(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    this.#watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
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

  /** Serves a watch on `res`: from a resourceVersion, or ADDED for what exists. */
  watch(type: ResourceType, namespace: string | undefined, selector: Selector, query: URLSearchParams, res: ServerResponse): void {
    if (this.#held !== undefined) {
      this.#held.push(() => this.watch(type, namespace, selector, query, res));
      return;
    }
    const from = query.get('resourceVersion') ?? '';
    // An expired version is refused before the stream starts (HTTP 410), as the watch cache does.
    if (from !== '' && from !== '0' && Number(from) < this.#compactedRv)
      throw new ApiError(410, 'Expired', `too old resource version: ${from} (${this.#compactedRv})`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { type, namespace, selector, res, timers: [] };
    this.#watchers.add(w);
    res.on('close', () => this.#endWatch(w));
    if (from === '' || from === '0') {
      for (const obj of this.#objects.values()) {
        if (obj.kind === type.kind && (namespace === undefined || obj.metadata.namespace === namespace) && matches(type, selector, obj))
          this.#send(w, { type: 'ADDED', object: obj });
      }
    } else {
      for (const event of this.#history) if (event.rv > Number(from)) this.#deliver(w, event);
    }
    if (query.get('allowWatchBookmarks') === 'true') {
      const interval = setInterval(() => {
        this.#send(w, {
          type: 'BOOKMARK',
          object: { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.#rv) } },
        });
      }, this.#options.bookmarkIntervalMs ?? 1000);
      w.timers.push(interval);
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) w.timers.push(setTimeout(() => this.#endWatch(w), timeout * 1000));
  }
}

/** Pod spec is immutable but for images, activeDeadlineSeconds, tolerations and the grace period (422). */
function checkPodSpecUpdate(name: string, old: ApiObject, next: ApiObject): void {
  const mask = (spec: unknown) => {
    const s = clone((spec ?? {}) as Loose);
    for (const field of POD_SPEC_MUTABLE) delete s[field];
    for (const list of ['containers', 'initContainers']) for (const c of (s[list] as Loose[] | undefined) ?? []) delete c.image;
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
