// Docker's inspect and list answers as CRI messages (plain init shapes).
import type Docker from 'dockerode';
import { ContainerState, NamespaceMode, PodSandboxState } from '../cri-api/gen/runtime/v1/api_pb.js';
import { criLabels, LOG_PATH_LABEL, parseContainerName, parseSandboxName, SANDBOX_ID_LABEL } from './docker-labels.ts';

/** Docker's RFC 3339 times as CRI nanoseconds; Docker's zero time ("0001-01-01…") is 0. */
export function nanos(time: string | undefined): bigint {
  if (!time || time.startsWith('0001-')) return 0n;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return 0n;
  const seconds = BigInt(Date.parse(`${m[1]}${m[3]}`) / 1000);
  const fraction = BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
  return seconds * 1_000_000_000n + fraction;
}

/** A sandbox's namespace modes, as Docker keeps them (a sandbox's own PID namespace reads as the pod's). */
function sandboxModes(hc: Docker.HostConfig | undefined) {
  return {
    network: hc?.NetworkMode === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: hc?.PidMode === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
    ipc: hc?.IpcMode === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
    targetId: '',
  };
}

export interface SandboxView {
  inspect: Docker.ContainerInspectInfo;
  ips: string[];
  /** Network set up and not torn down (cri-dockerd's "network ready"). */
  networkReady: boolean;
  runtimeHandler: string;
}

export function sandboxState(v: Pick<SandboxView, 'inspect' | 'networkReady'>): PodSandboxState {
  return v.inspect.State.Running && v.networkReady ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

function criSandboxFromInspect(v: SandboxView) {
  const { labels, annotations } = criLabels(v.inspect.Config.Labels);
  const md = parseSandboxName(v.inspect.Name) ?? { name: '', namespace: '', uid: '', attempt: 0 };
  return {
    id: v.inspect.Id,
    metadata: md,
    state: sandboxState(v),
    createdAt: nanos(v.inspect.Created),
    labels,
    annotations,
    runtimeHandler: v.runtimeHandler,
  };
}

export function criSandboxStatus(v: SandboxView) {
  const base = criSandboxFromInspect(v);
  const [ip = '', ...additional] = base.state === PodSandboxState.SANDBOX_READY ? v.ips : [];
  return {
    ...base,
    network: { ip, additionalIps: additional.map((a) => ({ ip: a })) },
    linux: { namespaces: { options: sandboxModes(v.inspect.HostConfig) } },
  };
}

/** A list entry (GET /containers/json) of one of our sandboxes. */
export function criSandboxFromListing(c: Docker.ContainerInfo, networkReady: boolean, runtimeHandler: string) {
  const { labels, annotations } = criLabels(c.Labels);
  const md = parseSandboxName(c.Names[0] ?? '') ?? { name: '', namespace: '', uid: '', attempt: 0 };
  const ready = c.State === 'running' && networkReady;
  return {
    id: c.Id,
    metadata: md,
    state: ready ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY,
    createdAt: BigInt(c.Created) * 1_000_000_000n,
    labels,
    annotations,
    runtimeHandler,
  };
}

/** Docker's states (created, running, paused, restarting, removing, exited, dead) as the CRI's. */
export function containerState(state: Docker.ContainerInspectInfo['State'] | string): ContainerState {
  const status = typeof state === 'string' ? state : state.Status;
  switch (status) {
    case 'created':
      // A start that failed leaves the container "created" with an error: it is over.
      return typeof state !== 'string' && state.Error ? ContainerState.CONTAINER_EXITED : ContainerState.CONTAINER_CREATED;
    case 'running':
    case 'paused':
    case 'restarting':
      return ContainerState.CONTAINER_RUNNING;
    case 'exited':
    case 'dead':
    case 'removing':
      return ContainerState.CONTAINER_EXITED;
    default:
      return ContainerState.CONTAINER_UNKNOWN;
  }
}

export function criContainerFromListing(c: Docker.ContainerInfo) {
  const { labels, annotations } = criLabels(c.Labels);
  return {
    id: c.Id,
    podSandboxId: c.Labels[SANDBOX_ID_LABEL] ?? '',
    metadata: parseContainerName(c.Names[0] ?? '') ?? { name: '', attempt: 0 },
    image: { image: c.Image },
    imageRef: c.ImageID,
    imageId: c.ImageID,
    state: containerState(c.State),
    createdAt: BigInt(c.Created) * 1_000_000_000n,
    labels,
    annotations,
  };
}

function exitReason(s: Docker.ContainerInspectInfo['State']): string {
  if (s.OOMKilled) return 'OOMKilled';
  if (s.Status === 'created' && s.Error) return 'StartError';
  return s.ExitCode === 0 ? 'Completed' : 'Error';
}

export function criContainerStatus(i: Docker.ContainerInspectInfo, imageName: string) {
  const { labels, annotations } = criLabels(i.Config.Labels);
  const state = containerState(i.State);
  const exited = state === ContainerState.CONTAINER_EXITED;
  const hc = i.HostConfig;
  const startedAt = nanos(i.State.StartedAt);
  // Docker stamps StartedAt after its runtime's start returned: a quick process may have ended first.
  const finished = nanos(i.State.FinishedAt) || nanos(i.Created);
  return {
    id: i.Id,
    metadata: parseContainerName(i.Name) ?? { name: '', attempt: 0 },
    state,
    createdAt: nanos(i.Created),
    startedAt,
    finishedAt: exited ? (finished > startedAt ? finished : startedAt) : 0n,
    exitCode: exited ? i.State.ExitCode : 0,
    image: { image: imageName },
    imageRef: i.Image,
    imageId: i.Image,
    reason: exited ? exitReason(i.State) : '',
    message: exited ? (i.State.Error ?? '') : '',
    labels,
    annotations,
    mounts: (i.Mounts ?? []).map((m) => ({
      containerPath: m.Destination,
      hostPath: m.Source,
      readonly: !m.RW,
      propagation: m.Propagation === 'rshared' ? 2 : m.Propagation === 'rslave' ? 1 : 0,
    })),
    logPath: i.Config.Labels?.[LOG_PATH_LABEL] ?? '',
    resources: {
      linux: {
        cpuPeriod: BigInt(hc.CpuPeriod ?? 0),
        cpuQuota: BigInt(hc.CpuQuota ?? 0),
        cpuShares: BigInt(hc.CpuShares ?? 0),
        memoryLimitInBytes: BigInt(hc.Memory ?? 0),
        memorySwapLimitInBytes: BigInt(hc.MemorySwap ?? 0),
        oomScoreAdj: BigInt(hc.OomScoreAdj ?? 0),
        cpusetCpus: hc.CpusetCpus ?? '',
        cpusetMems: hc.CpusetMems ?? '',
      },
    },
  };
}
