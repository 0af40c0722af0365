// berth's pod and container records ⇄ CRI messages.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ContainerState as CriContainerState, NamespaceMode, PodSandboxState } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { ContainerRecord, ContainerState, SandboxRecord, SandboxState } from '../store/pod-store.ts';

export const sandboxStateToCri: Record<SandboxState, PodSandboxState> = {
  ready: PodSandboxState.SANDBOX_READY,
  notready: PodSandboxState.SANDBOX_NOTREADY,
};

export const sandboxStateFromCri: Record<number, SandboxState> = {
  [PodSandboxState.SANDBOX_READY]: 'ready',
  [PodSandboxState.SANDBOX_NOTREADY]: 'notready',
};

export const containerStateToCri: Record<ContainerState, CriContainerState> = {
  created: CriContainerState.CONTAINER_CREATED,
  running: CriContainerState.CONTAINER_RUNNING,
  exited: CriContainerState.CONTAINER_EXITED,
  unknown: CriContainerState.CONTAINER_UNKNOWN,
};

export const containerStateFromCri: Record<number, ContainerState> = {
  [CriContainerState.CONTAINER_CREATED]: 'created',
  [CriContainerState.CONTAINER_RUNNING]: 'running',
  [CriContainerState.CONTAINER_EXITED]: 'exited',
  [CriContainerState.CONTAINER_UNKNOWN]: 'unknown',
};

export function criPodSandbox(s: SandboxRecord) {
  return {
    id: s.id,
    metadata: s.metadata,
    state: sandboxStateToCri[s.state],
    createdAt: BigInt(s.createdAt),
    labels: s.labels,
    annotations: s.annotations,
    runtimeHandler: s.runtimeHandler,
  };
}

export function criPodSandboxStatus(s: SandboxRecord) {
  const options = s.config.linux?.securityContext?.namespaceOptions;
  const [ip = '', ...additional] = s.state === 'ready' ? s.ips : [];
  return {
    ...criPodSandbox(s),
    network: { ip, additionalIps: additional.map((a) => ({ ip: a })) },
    linux: {
      namespaces: {
        options: {
          network: options?.network ?? NamespaceMode.POD,
          pid: options?.pid ?? NamespaceMode.POD,
          ipc: options?.ipc ?? NamespaceMode.POD,
          targetId: options?.targetId ?? '',
        },
      },
    },
  };
}

export function sandboxVerboseInfo(s: SandboxRecord): Record<string, string> {
  return {
    info: JSON.stringify(
      {
        pid: s.infraPid ?? 0,
        netNamespace: s.namespaces.net ?? '',
        namespaces: s.namespaces,
        netNamespaceClosed: s.state !== 'ready',
        networkAttached: s.networkAttached,
        runtimeHandler: s.runtimeHandler,
        infraContainer: s.infraContainerId ?? '',
        files: s.files,
        config: s.config,
      },
      (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
    ),
  };
}

export function criContainer(c: ContainerRecord) {
  return {
    id: c.id,
    podSandboxId: c.sandboxId,
    metadata: c.metadata,
    image: { image: c.image.spec },
    imageRef: c.image.ref,
    imageId: c.image.id,
    state: containerStateToCri[c.state],
    createdAt: BigInt(c.createdAt),
    labels: c.labels,
    annotations: c.annotations,
  };
}

export function criContainerStatus(c: ContainerRecord) {
  const { config } = c;
  return {
    ...criContainer(c),
    startedAt: BigInt(c.startedAt),
    finishedAt: BigInt(c.finishedAt),
    exitCode: c.exitCode,
    reason: c.reason,
    message: c.message,
    mounts: config.mounts,
    logPath: c.logPath,
    resources: config.linux?.resources ? { linux: config.linux.resources } : undefined,
  };
}

export async function containerVerboseInfo(c: ContainerRecord): Promise<Record<string, string>> {
  const runtimeSpec = await readFile(path.join(c.bundle, 'config.json'), 'utf8').then(JSON.parse, () => undefined);
  return {
    info: JSON.stringify(
      {
        sandboxID: c.sandboxId,
        pid: c.pid,
        conmonPid: c.conmonPid,
        removing: false,
        snapshotKey: c.snapshotKey,
        snapshotter: 'overlayfs',
        runtimeType: c.runtimeHandler,
        bundle: c.bundle,
        config: c.config,
        runtimeSpec,
      },
      (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
    ),
  };
}
