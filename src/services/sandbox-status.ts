// PodSandboxStatus and ListPodSandbox.
import type { SandboxRecord, SandboxState } from '../store/pod-store.ts';
import type { PodDeps } from './pod-deps.ts';

export interface SandboxFilter {
  id?: string;
  state?: SandboxState;
  labelSelector?: Record<string, string>;
}

export function matchesLabels(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function listPodSandboxes(deps: PodDeps, filter: SandboxFilter = {}): SandboxRecord[] {
  return deps.store
    .sandboxes()
    .filter(
      (s) =>
        (!filter.id || s.id.startsWith(filter.id)) &&
        (!filter.state || s.state === filter.state) &&
        matchesLabels(s.labels, filter.labelSelector),
    )
    .sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
}

export function podSandboxStatus(deps: PodDeps, idOrPrefix: string): SandboxRecord {
  return deps.store.findSandbox(idOrPrefix);
}
