// An in-memory provider for node-core tests: records every call, "runs" pods by marking them
// Running, and can be told to fail or to be slow.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { PodProvider, ProviderNodeStatus, SyncResult } from '../../../src/agent/provider.ts';

export interface RecordedCall {
  method: 'createPod' | 'updatePod' | 'deletePod';
  uid: string;
  name: string;
  at: number;
}

export class RecordingProvider implements PodProvider {
  readonly calls: RecordedCall[] = [];
  readonly running = new Map<string, Pod>();
  /** The pods deletePod was called with, in order. */
  readonly deleted: Pod[] = [];
  /** Number of upcoming createPod calls that throw. */
  failCreates = 0;
  /** How long deletePod takes. */
  deleteDelayMs = 0;
  /** What createPod and updatePod return. */
  syncResult: SyncResult = {};
  #active = new Set<string>();
  overlapping = false;
  /** How many times getPods (the node's relist) was called. */
  getPodsCalls = 0;
  /** What nodeStatus() answers. */
  nodeState: ProviderNodeStatus = { ready: true, runtimeVersion: 'fake://1.0.0' };

  #record(method: RecordedCall['method'], pod: Pod): void {
    this.calls.push({ method, uid: pod.metadata.uid ?? '', name: pod.metadata.name ?? '', at: Date.now() });
  }

  async #exclusive<T>(uid: string, body: () => Promise<T>): Promise<T> {
    if (this.#active.has(uid)) this.overlapping = true;
    this.#active.add(uid);
    try {
      return await body();
    } finally {
      this.#active.delete(uid);
    }
  }

  callsFor(uid: string): RecordedCall['method'][] {
    return this.calls.filter((c) => c.uid === uid).map((c) => c.method);
  }

  async createPod(pod: Pod): Promise<SyncResult> {
    return this.#exclusive(pod.metadata.uid!, async () => {
      this.#record('createPod', pod);
      if (this.failCreates > 0) {
        this.failCreates--;
        throw new Error('injected create failure');
      }
      this.running.set(pod.metadata.uid!, pod);
      return this.syncResult;
    });
  }

  async updatePod(pod: Pod): Promise<SyncResult> {
    return this.#exclusive(pod.metadata.uid!, async () => {
      this.#record('updatePod', pod);
      this.running.set(pod.metadata.uid!, pod);
      return this.syncResult;
    });
  }

  async deletePod(pod: Pod, signal: AbortSignal): Promise<void> {
    return this.#exclusive(pod.metadata.uid!, async () => {
      this.#record('deletePod', pod);
      this.deleted.push(pod);
      if (this.deleteDelayMs > 0) await sleep(this.deleteDelayMs, undefined, { signal });
      this.running.delete(pod.metadata.uid!);
    });
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    return [...this.running.values()].find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
  }

  async getPodStatus(namespace: string, name: string) {
    return (await this.getPod(namespace, name))?.status;
  }

  async nodeStatus(): Promise<ProviderNodeStatus> {
    return this.nodeState;
  }

  async getPods(): Promise<Pod[]> {
    this.getPodsCalls++;
    return [...this.running.values()].map((pod) => ({
      ...pod,
      status: {
        phase: 'Running' as const,
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          state: { running: { startedAt: '2024-01-01T00:00:00Z' } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: c.image ?? '',
          imageID: '',
        })),
      },
    }));
  }
}
