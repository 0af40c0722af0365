// StopPodSandbox: stops every container of the pod and its infra container, tears the network
// down and releases the namespaces. Idempotent; runs to the end even when the request is cancelled.
import { removePodNamespaces } from '../network/pod-namespaces.ts';
import type { SandboxRecord } from '../store/pod-store.ts';
import { publishContainerEvent } from './container-events.ts';
import { stopContainer } from './container-stop.ts';
import { removeInfraContainer } from './infra-container.ts';
import type { PodDeps } from './pod-deps.ts';
import { networkPod } from './sandbox-run.ts';

export async function stopPodSandbox(deps: PodDeps, idOrPrefix: string): Promise<SandboxRecord> {
  const found = deps.store.findSandbox(idOrPrefix);
  return deps.locks.run(found.id, async () => {
    for (const c of deps.store.containersOf(found.id)) {
      if (c.state === 'running' || c.state === 'unknown') await stopContainer(deps, c.id, 0);
    }
    let s = deps.store.getSandbox(found.id) ?? found;
    if (s.infraContainerId) {
      await removeInfraContainer(deps, s.runtimeHandler, s.infraContainerId);
      s = deps.store.updateSandbox(s.id, { infraContainerId: undefined, infraPid: undefined });
    }
    if (s.networkAttached) {
      // The bridge plugin removes its rules only while it can still look into the netns: DEL first.
      await deps.network.tearDown(networkPod(s, s.config));
      s = deps.store.updateSandbox(s.id, { networkAttached: false });
    }
    await removePodNamespaces({ dir: `${deps.paths.namespaces}/${s.id}`, ...s.namespaces });
    if (s.state !== 'notready') {
      s = deps.store.updateSandbox(s.id, { state: 'notready' });
      deps.logger.info({ pod: s.id }, 'pod sandbox stopped');
      publishContainerEvent(deps, s.id, s.id, 'stopped');
    }
    return s;
  });
}
