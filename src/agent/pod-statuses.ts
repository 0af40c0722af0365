// The status the node reports for each of its pods (at /pods and to the API server): the
// provider's latest, from the PLEG, with the prober's readiness and startup results applied; the
// initial Pending status while the provider has reported none. Keeps the probed conditions of each
// pod, so that a condition's lastTransitionTime moves only when the condition does.
import { initialPodStatus } from './initial-pod-status.ts';
import { k8sTime } from './k8s-time.ts';
import type { Pod, PodCondition, PodStatus } from './k8s-types.ts';
import { podUid } from './k8s-types.ts';
import { type ProbeResults, withProbeResults } from './probes/probe-status.ts';
import { CONFIG_SEEN_ANNOTATION } from './static-pods/static-pod-manifest.ts';

export interface PodStatusesOptions {
  /** The provider's latest status of the pod (the PLEG's). */
  reported: (uid: string) => PodStatus | undefined;
  /** The prober's latest results. */
  probeResults: ProbeResults;
  /** The node's address, reported as status.hostIP before the provider reports one. */
  nodeIP?: string;
}

function hasStatusProbes(pod: Pod): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some(
    (c) => c.readinessProbe !== undefined || c.startupProbe !== undefined,
  );
}

export class PodStatuses {
  readonly #options: PodStatusesOptions;
  readonly #probedConditions = new Map<string, PodCondition[]>();

  constructor(options: PodStatusesOptions) {
    this.#options = options;
  }

  /** The pod's status as the node reports it now. */
  status(pod: Pod): PodStatus {
    const uid = podUid(pod);
    const reported = this.#options.reported(uid);
    if (reported === undefined) {
      const seen = pod.metadata.annotations?.[CONFIG_SEEN_ANNOTATION] ?? pod.metadata.creationTimestamp ?? k8sTime();
      return initialPodStatus(pod, seen, this.#options.nodeIP);
    }
    if (!hasStatusProbes(pod)) return reported;
    const status = withProbeResults(pod, reported, this.#options.probeResults, this.#probedConditions.get(uid), k8sTime());
    this.#probedConditions.set(uid, status.conditions ?? []);
    return status;
  }

  /** The pod with its status as the node reports it now. */
  withStatus(pod: Pod): Pod {
    return { ...pod, status: this.status(pod) };
  }

  /** The pod left the node. */
  forget(uid: string): void {
    this.#probedConditions.delete(uid);
  }
}
