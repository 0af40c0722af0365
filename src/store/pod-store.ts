// Pods and containers the daemon knows: in memory for fast lists (the kubelet relists every
// second), written through to the metadata store so that a restarted daemon knows them too.
import { fromJson, type JsonObject, type JsonValue, toJson } from '@bufbuild/protobuf';
import {
  type ContainerConfig,
  ContainerConfigSchema,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
} from '../cri-api/gen/runtime/v1/api_pb.js';
import { alreadyExists, notFound } from '../errors/errors.ts';
import type { MetadataStore } from './metadata-store.ts';

export type SandboxState = 'ready' | 'notready';
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface SandboxRecord {
  id: string;
  /** The unique name the kubelet's metadata makes: k8s_POD_<name>_<namespace>_<uid>_<attempt>. */
  name: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  state: SandboxState;
  /** Nanoseconds since the epoch, as a decimal string (JSON has no bigint). */
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
  /** The CRI PodSandboxConfig RunPodSandbox received, for status and for containers created in the pod. */
  config: PodSandboxConfig;
  namespaces: { net?: string; ipc?: string; uts?: string };
  hostNetwork: boolean;
  ips: string[];
  cgroupParent: string;
  /** Per-pod files bind-mounted into its containers. */
  files: { dir: string; resolvConf?: string; hosts?: string; hostname?: string; shm?: string };
  /** When the pod shares one PID namespace: the infra container that holds it, and its pid. */
  infraContainerId?: string;
  infraPid?: number;
  /** Network attached and not yet torn down. */
  networkAttached: boolean;
}

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  /** k8s_<container>_<pod>_<namespace>_<uid>_<attempt> */
  name: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  image: { spec: string; id: string; ref: string };
  logPath: string;
  /** The CRI ContainerConfig CreateContainer received (with resources as last updated). */
  config: ContainerConfig;
  runtimeHandler: string;
  bundle: string;
  snapshotKey: string;
  pid: number;
  conmonPid: number;
  /** The OCI spec written to the bundle, for verbose status. */
  cgroupsPath: string;
}

/** A record as the metadata store keeps it: the CRI config as protojson. */
type Stored<R extends { config: unknown }> = Omit<R, 'config'> & { config: JsonValue };

/**
 * The protojson of a stored config. Rows of earlier versions hold the message as JSON.stringify
 * wrote it (marked by `$typeName`): protojson but for the one bytes field, each env value, which
 * came out as an object of byte indices.
 */
function storedConfig(config: JsonValue): JsonValue {
  if (typeof config !== 'object' || config === null || Array.isArray(config) || !('$typeName' in config)) return config;
  const envs = config.envs;
  if (!Array.isArray(envs)) return config;
  return {
    ...config,
    envs: envs.map((e) => {
      const value = (e as JsonObject).value;
      if (typeof value !== 'object' || value === null) return e;
      return { ...(e as JsonObject), value: Buffer.from(Object.values(value) as number[]).toString('base64') };
    }),
  };
}

export class PodStore {
  #meta: MetadataStore;
  #sandboxes = new Map<string, SandboxRecord>();
  #containers = new Map<string, ContainerRecord>();
  /** name → id, for sandboxes and containers alike (names never collide: different prefixes). */
  #names = new Map<string, string>();

  constructor(meta: MetadataStore) {
    this.#meta = meta;
    for (const row of meta.list<Stored<SandboxRecord>>('sandbox')) {
      const s = { ...row, config: fromJson(PodSandboxConfigSchema, storedConfig(row.config), { ignoreUnknownFields: true }) };
      this.#sandboxes.set(s.id, s);
      this.#names.set(s.name, s.id);
    }
    for (const row of meta.list<Stored<ContainerRecord>>('container')) {
      const c = { ...row, config: fromJson(ContainerConfigSchema, storedConfig(row.config), { ignoreUnknownFields: true }) };
      this.#containers.set(c.id, c);
      this.#names.set(c.name, c.id);
    }
  }

  /** Reserves a unique name; AlreadyExists names the holder. Returns a release function. */
  reserveName(name: string, id: string): () => void {
    const holder = this.#names.get(name);
    if (holder !== undefined && holder !== id) {
      throw alreadyExists('name-reserved', `the name "${name}" is already reserved for ${holder}`, { fields: { name, id: holder } });
    }
    this.#names.set(name, id);
    return () => {
      if (this.#names.get(name) === id) this.#names.delete(name);
    };
  }

  sandboxes(): SandboxRecord[] {
    return [...this.#sandboxes.values()];
  }

  containers(): ContainerRecord[] {
    return [...this.#containers.values()];
  }

  getSandbox(id: string): SandboxRecord | undefined {
    return this.#sandboxes.get(id);
  }

  getContainer(id: string): ContainerRecord | undefined {
    return this.#containers.get(id);
  }

  /** By full ID or unique prefix, as crictl lets users type them. */
  findSandbox(idOrPrefix: string): SandboxRecord {
    return findByPrefix(this.#sandboxes, idOrPrefix, 'pod sandbox');
  }

  findContainer(idOrPrefix: string): ContainerRecord {
    return findByPrefix(this.#containers, idOrPrefix, 'container');
  }

  containersOf(sandboxId: string): ContainerRecord[] {
    return this.containers().filter((c) => c.sandboxId === sandboxId);
  }

  putSandbox(s: SandboxRecord): void {
    this.#meta.put('sandbox', s.id, { ...s, config: toJson(PodSandboxConfigSchema, s.config) } satisfies Stored<SandboxRecord>);
    this.#sandboxes.set(s.id, s);
    this.#names.set(s.name, s.id);
  }

  putContainer(c: ContainerRecord): void {
    this.#meta.put('container', c.id, { ...c, config: toJson(ContainerConfigSchema, c.config) } satisfies Stored<ContainerRecord>);
    this.#containers.set(c.id, c);
    this.#names.set(c.name, c.id);
  }

  updateSandbox(id: string, change: Partial<SandboxRecord>): SandboxRecord {
    const s = this.#sandboxes.get(id);
    if (!s) throw notFound('sandbox-not-found', `pod sandbox ${id} not found`);
    const next = { ...s, ...change };
    this.putSandbox(next);
    return next;
  }

  updateContainer(id: string, change: Partial<ContainerRecord>): ContainerRecord {
    const c = this.#containers.get(id);
    if (!c) throw notFound('container-not-found', `container ${id} not found`);
    const next = { ...c, ...change };
    this.putContainer(next);
    return next;
  }

  deleteSandbox(id: string): void {
    const s = this.#sandboxes.get(id);
    this.#meta.delete('sandbox', id);
    this.#sandboxes.delete(id);
    if (s && this.#names.get(s.name) === id) this.#names.delete(s.name);
  }

  deleteContainer(id: string): void {
    const c = this.#containers.get(id);
    this.#meta.delete('container', id);
    this.#containers.delete(id);
    if (c && this.#names.get(c.name) === id) this.#names.delete(c.name);
  }
}

function findByPrefix<T>(map: Map<string, T>, idOrPrefix: string, what: string): T {
  const exact = map.get(idOrPrefix);
  if (exact) return exact;
  if (idOrPrefix.length > 0) {
    const matches = [...map.keys()].filter((k) => k.startsWith(idOrPrefix));
    if (matches.length === 1) return map.get(matches[0]!)!;
    if (matches.length > 1) throw notFound('ambiguous-id', `${what} ID prefix "${idOrPrefix}" matches ${matches.length} ${what}s`);
  }
  const code = what === 'container' ? 'container-not-found' : 'sandbox-not-found';
  throw notFound(code, `${what} "${idOrPrefix}" not found`, { fields: { id: idOrPrefix } });
}
