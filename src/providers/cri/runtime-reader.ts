// Reads pods' runtime state over the CRI: ListPodSandbox and ListContainers (by the kubelet's pod
// UID label), then PodSandboxStatus / ContainerStatus only for what the lists cannot tell and the
// cache does not hold yet — a container's details do not change while its state stays the same.

import type { RuntimeClient } from '../../cri/cri-client.ts';
import type { Container as CriContainer, PodSandbox } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { ContainerState, NamespaceMode, PodSandboxState } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../../errors/errors.ts';
import {
  CONTAINER_HASH_ANNOTATION,
  CONTAINER_NAME_LABEL,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_TERMINATION_GRACE_PERIOD_ANNOTATION,
  POD_UID_LABEL,
} from './kubelet-labels.ts';
import type { RuntimeContainer, RuntimeContainerState, RuntimePodState, RuntimeSandbox } from './runtime-state.ts';
import { emptyPodState, sortNewestFirst } from './runtime-state.ts';
import { exitedContainerMessage } from './termination-message.ts';

export interface RuntimeContainerWithGrace extends RuntimeContainer {
  /** The io.kubernetes.pod.terminationGracePeriod annotation, for pods whose spec is unknown. */
  podGracePeriodSeconds?: number;
}

export interface ObservedPod extends RuntimePodState {
  containers: RuntimeContainerWithGrace[];
}

const STATES: Record<ContainerState, RuntimeContainerState> = {
  [ContainerState.CONTAINER_CREATED]: 'created',
  [ContainerState.CONTAINER_RUNNING]: 'running',
  [ContainerState.CONTAINER_EXITED]: 'exited',
  [ContainerState.CONTAINER_UNKNOWN]: 'unknown',
};

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

function isNotFound(e: unknown): boolean {
  return isBerthError(e, 'not-found');
}

export class RuntimeReader {
  readonly #runtime: RuntimeClient;
  readonly #timeoutMs: number;
  readonly #containers = new Map<string, RuntimeContainerWithGrace>();
  readonly #sandboxes = new Map<string, { ips: string[]; hostNetwork: boolean }>();

  constructor(runtime: RuntimeClient, callTimeoutMs: number) {
    this.#runtime = runtime;
    this.#timeoutMs = callTimeoutMs;
  }

  /** Every pod the runtime holds that carries the kubelet's pod UID label, by UID. */
  async allPods(signal: AbortSignal): Promise<Map<string, ObservedPod>> {
    const options = { signal, timeoutMs: this.#timeoutMs };
    const [sandboxes, containers] = await Promise.all([
      this.#runtime.listPodSandbox({}, options),
      this.#runtime.listContainers({}, options),
    ]);
    const byUid = new Map<string, { sandboxes: PodSandbox[]; containers: CriContainer[] }>();
    const group = (uid: string | undefined) => {
      if (uid === undefined || uid === '') return undefined;
      const entry = byUid.get(uid) ?? { sandboxes: [], containers: [] };
      byUid.set(uid, entry);
      return entry;
    };
    for (const s of sandboxes.items) group(s.labels[POD_UID_LABEL])?.sandboxes.push(s);
    for (const c of containers.containers) group(c.labels[POD_UID_LABEL])?.containers.push(c);
    this.#prune(new Set(sandboxes.items.map((s) => s.id)), new Set(containers.containers.map((c) => c.id)));
    const pods = new Map<string, ObservedPod>();
    for (const [uid, entry] of byUid) pods.set(uid, await this.#observe(uid, entry.sandboxes, entry.containers, signal));
    return pods;
  }

  /** One pod's runtime state; empty when the runtime holds nothing for it. */
  async pod(uid: string, signal: AbortSignal): Promise<ObservedPod> {
    const options = { signal, timeoutMs: this.#timeoutMs };
    const filter = { labelSelector: { [POD_UID_LABEL]: uid } };
    const [sandboxes, containers] = await Promise.all([
      this.#runtime.listPodSandbox({ filter }, options),
      this.#runtime.listContainers({ filter }, options),
    ]);
    return this.#observe(uid, sandboxes.items, containers.containers, signal);
  }

  async #observe(uid: string, sandboxes: PodSandbox[], containers: CriContainer[], signal: AbortSignal): Promise<ObservedPod> {
    const labels = sandboxes[0]?.labels ?? containers[0]?.labels ?? {};
    const state: ObservedPod = emptyPodState(
      uid,
      labels[POD_NAME_LABEL] ?? sandboxes[0]?.metadata?.name ?? '',
      labels[POD_NAMESPACE_LABEL] ?? '',
    );
    for (const s of sandboxes) state.sandboxes.push(await this.#sandbox(s, signal));
    for (const c of containers) {
      const container = await this.#container(c, signal);
      if (container !== undefined) state.containers.push(container);
    }
    sortNewestFirst(state.sandboxes, (s) => s.attempt);
    sortNewestFirst(state.containers, (c) => c.restartCount);
    return state;
  }

  async #sandbox(s: PodSandbox, signal: AbortSignal): Promise<RuntimeSandbox> {
    const ready = s.state === PodSandboxState.SANDBOX_READY;
    let details = this.#sandboxes.get(s.id);
    if (details === undefined && ready) {
      try {
        const { status } = await this.#runtime.podSandboxStatus({ podSandboxId: s.id }, { signal, timeoutMs: this.#timeoutMs });
        const ip = status?.network?.ip ?? '';
        details = {
          ips: [ip, ...(status?.network?.additionalIps ?? []).map((a) => a.ip)].filter((a) => a !== ''),
          hostNetwork: status?.linux?.namespaces?.options?.network === NamespaceMode.NODE,
        };
        this.#sandboxes.set(s.id, details);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return {
      id: s.id,
      attempt: s.metadata?.attempt ?? 0,
      ready,
      createdAt: nsToMs(s.createdAt),
      ips: details?.ips ?? [],
      hostNetwork: details?.hostNetwork ?? false,
    };
  }

  async #container(c: CriContainer, signal: AbortSignal): Promise<RuntimeContainerWithGrace | undefined> {
    const state = STATES[c.state] ?? 'unknown';
    const cached = this.#containers.get(c.id);
    if (cached !== undefined && cached.state === state) return cached;
    const grace = c.annotations[POD_TERMINATION_GRACE_PERIOD_ANNOTATION];
    const container: RuntimeContainerWithGrace = {
      id: c.id,
      sandboxId: c.podSandboxId,
      name: c.labels[CONTAINER_NAME_LABEL] ?? c.metadata?.name ?? '',
      restartCount: Number(c.annotations[CONTAINER_RESTART_COUNT_ANNOTATION] ?? c.metadata?.attempt ?? 0) || 0,
      state,
      createdAt: nsToMs(c.createdAt),
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: '',
      message: '',
      image: c.image?.userSpecifiedImage || c.image?.image || '',
      imageRef: c.imageRef,
      hash: c.annotations[CONTAINER_HASH_ANNOTATION] ?? '',
      ...(grace !== undefined && grace !== '' ? { podGracePeriodSeconds: Number(grace) } : {}),
    };
    if (state !== 'created') {
      try {
        const { status } = await this.#runtime.containerStatus({ containerId: c.id }, { signal, timeoutMs: this.#timeoutMs });
        if (status !== undefined) {
          container.startedAt = nsToMs(status.startedAt);
          container.finishedAt = nsToMs(status.finishedAt);
          container.exitCode = status.exitCode;
          container.reason = status.reason;
          container.message = status.message;
          container.imageRef = status.imageRef || container.imageRef;
          // The status may be newer than the list.
          container.state = STATES[status.state] ?? container.state;
          if (container.state === 'exited') container.message = await exitedContainerMessage(status);
        }
      } catch (e) {
        if (isNotFound(e)) return undefined; // removed since the list
        throw e;
      }
    }
    this.#containers.set(c.id, container);
    return container;
  }

  #prune(sandboxIds: Set<string>, containerIds: Set<string>): void {
    for (const id of this.#sandboxes.keys()) if (!sandboxIds.has(id)) this.#sandboxes.delete(id);
    for (const id of this.#containers.keys()) if (!containerIds.has(id)) this.#containers.delete(id);
  }
}
