// Pod statuses to the API server, as the kubelet's status manager writes them: a merge patch of
// the pod's status subresource carrying the pod's UID (a pod deleted and made again under the same
// name is not patched: 409 Conflict), only when the status differs from what was written last;
// conditions the node does not own (set by others) are kept. A pod that finished terminating
// after its deletion is deleted for good: grace period 0, with its UID as precondition.
import type { Logger } from '../../util/logger.ts';
import type { Pod, PodStatus } from '../k8s-types.ts';
import { canonicalJson } from '../static-pods/static-pod-uid.ts';
import { apiErrorMessage, type KubeApi, MERGE_PATCH, statusCode } from './kube-api.ts';

export interface StatusUpdate {
  /** The API's pod (an API pod, or a static pod's mirror pod). */
  target: Pod;
  status: PodStatus;
}

function terminal(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The status to write: ours, with the conditions of types we do not set kept from the API's. */
export function statusToWrite(target: Pod, status: PodStatus): PodStatus {
  const ours = new Set((status.conditions ?? []).map((c) => c.type));
  const theirs = (target.status?.conditions ?? []).filter((c) => !ours.has(c.type));
  return { ...status, conditions: [...(status.conditions ?? []), ...theirs] };
}

export class PodStatusReporter {
  readonly #api: KubeApi;
  readonly #logger: Logger;
  /** What was written last, by the target's UID. */
  readonly #written = new Map<string, string>();
  #patches = 0;

  constructor(api: KubeApi, logger: Logger) {
    this.#api = api;
    this.#logger = logger;
  }

  get patches(): number {
    return this.#patches;
  }

  async sync(updates: StatusUpdate[]): Promise<void> {
    const live = new Set(updates.map((u) => u.target.metadata.uid ?? ''));
    for (const uid of this.#written.keys()) if (!live.has(uid)) this.#written.delete(uid);
    for (const update of updates) await this.#write(update);
  }

  async #write({ target, status }: StatusUpdate): Promise<void> {
    const uid = target.metadata.uid ?? '';
    const next = statusToWrite(target, status);
    const text = canonicalJson(next);
    if (this.#written.get(uid) === text) return;
    if (target.status !== undefined && canonicalJson(target.status) === text) {
      this.#written.set(uid, text);
      return;
    }
    // The API server refuses to take a pod out of a terminal phase.
    if (terminal(target.status?.phase) && next.phase !== target.status?.phase) return;
    try {
      await this.#api.core.patchNamespacedPodStatus(
        { name: target.metadata.name!, namespace: target.metadata.namespace ?? 'default', body: { metadata: { uid }, status: next } },
        MERGE_PATCH,
      );
      this.#written.set(uid, text);
      this.#patches++;
    } catch (e) {
      const code = statusCode(e);
      if (code === 404 || code === 409) {
        this.#logger.debug(
          { pod: `${target.metadata.namespace}/${target.metadata.name}`, uid, code },
          'the pod is gone or replaced: its status is not written',
        );
        this.#written.set(uid, text);
        return;
      }
      this.#logger.warn(
        { err: apiErrorMessage(e), code, pod: `${target.metadata.namespace}/${target.metadata.name}` },
        'writing a pod status failed',
      );
    }
  }

  /** Deletes a pod that finished terminating after its deletion (grace 0, UID precondition). Gone already is fine. */
  async finishDeletion(pod: Pod): Promise<void> {
    try {
      await this.#api.core.deleteNamespacedPod({
        name: pod.metadata.name!,
        namespace: pod.metadata.namespace ?? 'default',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } },
      });
      this.#logger.info(
        { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid: pod.metadata.uid },
        'pod terminated: deleted from the API server',
      );
    } catch (e) {
      const code = statusCode(e);
      if (code !== 404 && code !== 409) throw e;
    }
    this.#written.delete(pod.metadata.uid ?? '');
  }
}
