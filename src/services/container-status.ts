// ContainerStatus and ListContainers.
import type { ContainerRecord, ContainerState } from '../store/pod-store.ts';
import type { PodDeps } from './pod-deps.ts';
import { matchesLabels } from './sandbox-status.ts';

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}

export function listContainers(deps: PodDeps, filter: ContainerFilter = {}): ContainerRecord[] {
  return deps.store
    .containers()
    .filter(
      (c) =>
        (!filter.id || c.id.startsWith(filter.id)) &&
        (!filter.state || c.state === filter.state) &&
        (!filter.podSandboxId || c.sandboxId.startsWith(filter.podSandboxId)) &&
        matchesLabels(c.labels, filter.labelSelector),
    )
    .sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
}

export function containerStatus(deps: PodDeps, idOrPrefix: string): ContainerRecord {
  return deps.store.findContainer(idOrPrefix);
}
