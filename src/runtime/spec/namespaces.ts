// Which Linux namespaces a container joins, creates or shares with the node.

import { invalidArgument } from '../../errors/errors.ts';
import type { LinuxNamespace, NamespaceType } from '../../oci/runtime-spec.ts';
import type { NamespaceMode, NamespaceOptionsInput, PodNamespacePaths } from './spec-input.ts';
import { checkPodUserNamespace, checkSandboxUserNamespace } from './user-namespace.ts';

/** Where a namespace comes from: the node's (no entry in the spec), a new one, or an existing one. */
export type NamespaceSource = 'node' | 'new' | { path: string };

const fromPod = (type: NamespaceType, mode: NamespaceMode, path: string | undefined): NamespaceSource => {
  switch (mode) {
    case 'node':
      return 'node';
    case 'container':
      return 'new';
    case 'pod':
      if (path === undefined || path === '') {
        throw invalidArgument('missing-pod-namespace', `the pod has no ${type} namespace to join`, { fields: { namespace: type } });
      }
      return { path };
    case 'target':
      throw invalidArgument('invalid-namespace-mode', `namespace mode TARGET is only valid for the PID namespace, not ${type}`, {
        fields: { namespace: type },
      });
  }
};

/**
 * The namespaces of a container in a pod. Network, IPC and UTS are the pod's (or the node's when the
 * pod uses the host's); UTS follows the network mode. PID is the container's own (CONTAINER), the
 * pod's (POD), the node's (NODE) or another container's (TARGET, joined at `targetPidNamespace`).
 * Mount is always new; cgroup is new when asked (cgroup v2, unprivileged).
 */
export function containerNamespaceSources(
  options: NamespaceOptionsInput | undefined,
  paths: PodNamespacePaths = {},
  targetPidNamespace?: string,
): Record<'pid' | 'ipc' | 'uts' | 'network', NamespaceSource> {
  checkPodUserNamespace(options);
  const network = options?.network ?? 'pod';
  const ipc = options?.ipc ?? 'pod';
  const pidMode = options?.pid ?? 'pod';
  let pid: NamespaceSource;
  if (pidMode === 'target') {
    if (targetPidNamespace === undefined || targetPidNamespace === '') {
      throw invalidArgument(
        'missing-target-namespace',
        `PID namespace mode TARGET needs the target container's namespace (target ${options?.targetId ?? ''})`,
        {
          fields: { targetId: options?.targetId },
        },
      );
    }
    pid = { path: targetPidNamespace };
  } else {
    pid = fromPod('pid', pidMode, paths.pid);
  }
  return {
    pid,
    ipc: fromPod('ipc', ipc, paths.ipc),
    uts: fromPod('uts', network, paths.uts),
    network: fromPod('network', network, paths.network),
  };
}

/** The namespaces of a pod's infra container: the pinned ones joined, the others new, the node's where asked. */
export function sandboxNamespaceSources(
  options: NamespaceOptionsInput | undefined,
  paths: PodNamespacePaths = {},
): Record<'pid' | 'ipc' | 'uts' | 'network', NamespaceSource> {
  // Only a pod that shares its PID namespace has an infra container.
  checkSandboxUserNamespace({ ...options, pid: 'pod' });
  const pick = (mode: NamespaceMode | undefined, path: string | undefined): NamespaceSource =>
    mode === 'node' ? 'node' : path !== undefined && path !== '' ? { path } : 'new';
  return {
    pid: pick(options?.pid, paths.pid),
    ipc: pick(options?.ipc, paths.ipc),
    uts: pick(options?.network, paths.uts),
    network: pick(options?.network, paths.network),
  };
}

/** The spec's namespace list, in a fixed order (pid, ipc, uts, mount, network, cgroup, user). */
export function namespaceList(
  sources: Record<'pid' | 'ipc' | 'uts' | 'network', NamespaceSource>,
  cgroupNamespace = false,
  userNamespace = false,
): LinuxNamespace[] {
  const out: LinuxNamespace[] = [];
  const add = (type: NamespaceType, source: NamespaceSource): void => {
    if (source === 'node') return;
    out.push(source === 'new' ? { type } : { type, path: source.path });
  };
  add('pid', sources.pid);
  add('ipc', sources.ipc);
  add('uts', sources.uts);
  add('mount', 'new');
  add('network', sources.network);
  if (cgroupNamespace) add('cgroup', 'new');
  if (userNamespace) add('user', 'new');
  return out;
}
