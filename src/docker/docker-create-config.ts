// CRI configs as Docker create requests, laid out as cri-dockerd lays them out: the sandbox is a
// container of the sandbox image with network mode none (CNI networks it) and a shareable IPC
// namespace; containers join its network, IPC and (when shared) PID namespaces.
import path from 'node:path';
import type Docker from 'dockerode';
import { containerConfig as containerInput, podNamespaceOptions, securityProfile } from '../cri-api/cri-spec-input.ts';
import type { ContainerConfig, PodSandboxConfig } from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { parseSysctls } from '../network/sysctls.ts';
import type { NamespaceOptionsInput } from '../runtime/spec/spec-input.ts';
import { checkSandboxUserNamespace } from '../runtime/spec/user-namespace.ts';
import { containerInternalLabels, containerName, dockerLabels, sandboxInternalLabels, sandboxName } from './docker-labels.ts';
import { securityFields } from './docker-security.ts';

type CreateOptions = Docker.ContainerCreateOptions;

export interface PodMetadata {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

export function checkPodMetadata(m: PodSandboxConfig['metadata']): PodMetadata {
  if (!m?.name) throw invalidArgument('bad-metadata', 'the pod sandbox config needs metadata with a name');
  for (const [what, v] of [
    ['name', m.name],
    ['namespace', m.namespace],
    ['uid', m.uid],
  ] as const) {
    // The Docker name joins the fields with "_" and is parsed back: one more "_" would shift them.
    if (v.includes('_')) throw invalidArgument('bad-metadata', `the pod's ${what} ${JSON.stringify(v)} may not contain "_"`);
  }
  return { name: m.name, namespace: m.namespace, uid: m.uid, attempt: m.attempt };
}

/** Docker refuses a negative oom_score_adj below what its runtime may set (no CAP_SYS_RESOURCE): raised to the floor. */
function oomScoreAdj(requested: number, floor: number): number {
  return Math.min(1000, Math.max(requested, floor));
}

function refuseUserNamespace(ns: NamespaceOptionsInput): void {
  checkSandboxUserNamespace(ns);
  const mode = ns.usernsOptions?.mode;
  // Docker has only its daemon-wide userns-remap: a pod's own mappings cannot be honoured.
  if (mode !== undefined && mode !== 'node') {
    throw invalidArgument('userns-unsupported', 'Docker Engine cannot give a pod its own user namespace (hostUsers: false)', {
      fields: { mode },
    });
  }
}

export interface SandboxCreateInput {
  config: PodSandboxConfig;
  image: string;
  /** A Docker runtime name (HostConfig.Runtime); empty for the engine's default. */
  runtime: string;
  seccompProfileRoot: string;
  oomScoreAdjFloor: number;
}

export async function sandboxCreateOptions(input: SandboxCreateInput): Promise<CreateOptions> {
  const { config } = input;
  const metadata = checkPodMetadata(config.metadata);
  const ns = podNamespaceOptions(config);
  refuseUserNamespace(ns);
  const hostNetwork = ns.network === 'node';
  const sc = config.linux?.securityContext;
  parseSysctls(config.linux?.sysctls, { network: !hostNetwork, ipc: ns.ipc !== 'node' });
  const security = await securityFields(
    {
      privileged: sc?.privileged,
      readonlyRootfs: sc?.readonlyRootfs,
      runAsUser: sc?.runAsUser ? Number(sc.runAsUser.value) : undefined,
      runAsGroup: sc?.runAsGroup ? Number(sc.runAsGroup.value) : undefined,
      supplementalGroups: sc?.supplementalGroups.map(Number),
      seccomp: securityProfile(sc?.seccomp, sc?.seccompProfilePath ?? ''),
      apparmor: securityProfile(sc?.apparmor, ''),
    },
    input.seccompProfileRoot,
  );
  return {
    name: sandboxName(metadata),
    Image: input.image,
    Hostname: hostNetwork ? undefined : config.hostname || undefined,
    Labels: dockerLabels(config.labels, config.annotations, sandboxInternalLabels()),
    ...(security.user ? { User: security.user } : {}),
    HostConfig: {
      ...security.hostConfig,
      NetworkMode: hostNetwork ? 'host' : 'none',
      IpcMode: ns.ipc === 'node' ? 'host' : 'shareable',
      PidMode: ns.pid === 'node' ? 'host' : '',
      Sysctls: config.linux?.sysctls ?? {},
      CgroupParent: config.linux?.cgroupParent || undefined,
      OomScoreAdj: oomScoreAdj(-998, input.oomScoreAdjFloor),
      CpuShares: 2,
      ...(input.runtime ? { Runtime: input.runtime } : {}),
    },
  };
}

const PROPAGATION = { private: 'rprivate', 'host-to-container': 'rslave', bidirectional: 'rshared' } as const;

export interface ContainerCreateInput {
  sandboxId: string;
  /** The sandbox's Docker inspect: its namespaces, runtime and cgroup parent. */
  sandbox: Docker.ContainerInspectInfo;
  pod: PodMetadata;
  config: ContainerConfig;
  /** The pod's config as the kubelet sends it again with CreateContainer. */
  sandboxConfig: PodSandboxConfig | undefined;
  seccompProfileRoot: string;
  oomScoreAdjFloor: number;
}

export async function containerCreateOptions(input: ContainerCreateInput): Promise<CreateOptions> {
  const { config, sandboxId, sandbox } = input;
  if (!config.metadata?.name) throw invalidArgument('bad-metadata', 'the container config needs metadata with a name');
  if (config.metadata.name.includes('_'))
    throw invalidArgument('bad-metadata', `the container name ${JSON.stringify(config.metadata.name)} may not contain "_"`);
  if (!config.image?.image) throw invalidArgument('bad-image', 'the container config names no image');
  const c = containerInput(config);
  const sc = c.securityContext ?? {};
  const ns = sc.namespaceOptions ?? { network: 'pod', pid: 'pod', ipc: 'pod' };
  if (sc.supplementalGroupsPolicy === 'strict') {
    throw invalidArgument('supplemental-groups-strict', 'Docker Engine always adds the groups of /etc/group: Strict cannot be honoured');
  }
  const logDir = input.sandboxConfig?.logDirectory ?? '';
  const logPath = config.logPath ? path.join(logDir, config.logPath) : '';
  const security = await securityFields(sc, input.seccompProfileRoot);
  const hostNetwork = sandbox.HostConfig.NetworkMode === 'host';
  const pidMode =
    ns.pid === 'node' ? 'host' : ns.pid === 'pod' ? `container:${sandboxId}` : ns.pid === 'target' ? `container:${ns.targetId}` : '';
  const resources = c.resources;
  const envs = c.envs ?? [];
  return {
    name: containerName(input.pod, { name: config.metadata.name, attempt: config.metadata.attempt }),
    Image: config.image.image,
    Labels: dockerLabels(config.labels, config.annotations, containerInternalLabels(sandboxId, logPath)),
    ...(c.command && c.command.length > 0 ? { Entrypoint: c.command } : {}),
    ...(c.args && c.args.length > 0 ? { Cmd: c.args } : {}),
    Env: envs.map((e) => `${e.key}=${e.value}`),
    WorkingDir: c.workingDir || undefined,
    Tty: c.tty ?? false,
    OpenStdin: c.stdin ?? false,
    StdinOnce: config.stdinOnce,
    AttachStdin: c.stdin ?? false,
    AttachStdout: true,
    AttachStderr: !c.tty,
    ...(security.user ? { User: security.user } : {}),
    HostConfig: {
      ...security.hostConfig,
      NetworkMode: hostNetwork ? 'host' : `container:${sandboxId}`,
      IpcMode: sandbox.HostConfig.IpcMode === 'host' ? 'host' : `container:${sandboxId}`,
      PidMode: pidMode,
      CgroupParent: sandbox.HostConfig.CgroupParent || undefined,
      ...(sandbox.HostConfig.Runtime ? { Runtime: sandbox.HostConfig.Runtime } : {}),
      Mounts: (c.mounts ?? []).map((m) => ({
        Type: 'bind' as const,
        Source: m.hostPath,
        Target: m.containerPath,
        ReadOnly: m.readonly ?? false,
        BindOptions: { Propagation: PROPAGATION[m.propagation ?? 'private'] },
      })),
      Devices: (c.devices ?? []).map((d) => ({
        PathOnHost: d.hostPath,
        PathInContainer: d.containerPath,
        CgroupPermissions: d.permissions || 'rwm',
      })),
      CpuShares: resources?.cpuShares || undefined,
      CpuQuota: resources?.cpuQuota || undefined,
      CpuPeriod: resources?.cpuPeriod || undefined,
      Memory: resources?.memoryLimitInBytes || undefined,
      MemorySwap: resources?.memorySwapLimitInBytes || undefined,
      CpusetCpus: resources?.cpusetCpus || undefined,
      CpusetMems: resources?.cpusetMems || undefined,
      OomScoreAdj: oomScoreAdj(resources?.oomScoreAdj ?? 0, input.oomScoreAdjFloor),
      // Docker's own copy of the log, which the dockershim turns into the CRI log: kept small.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}
