// CRI messages → the plain inputs of the OCI spec builders (src/runtime/spec/spec-input.ts).

import { profileFromLegacyPath } from '../runtime/spec/seccomp.ts';
import type {
  ContainerConfigInput,
  ContainerSecurityInput,
  NamespaceOptionsInput,
  ResourcesInput,
  SecurityProfile,
  NamespaceMode as SpecNamespaceMode,
} from '../runtime/spec/spec-input.ts';
import {
  type ContainerConfig,
  type SecurityProfile as CriSecurityProfile,
  type LinuxContainerResources,
  type LinuxContainerSecurityContext,
  MountPropagation,
  NamespaceMode,
  type NamespaceOption,
  type PodSandboxConfig,
  SecurityProfile_ProfileType,
} from './gen/runtime/v1/api_pb.js';

const NAMESPACE_MODES: Record<number, SpecNamespaceMode> = {
  [NamespaceMode.POD]: 'pod',
  [NamespaceMode.CONTAINER]: 'container',
  [NamespaceMode.NODE]: 'node',
  [NamespaceMode.TARGET]: 'target',
};

export function namespaceOptions(o: NamespaceOption | undefined): NamespaceOptionsInput {
  if (!o) return { network: 'pod', pid: 'pod', ipc: 'pod' };
  return {
    network: NAMESPACE_MODES[o.network] ?? 'pod',
    pid: NAMESPACE_MODES[o.pid] ?? 'pod',
    ipc: NAMESPACE_MODES[o.ipc] ?? 'pod',
    ...(o.targetId ? { targetId: o.targetId } : {}),
    // Dropped, the pod would run as the node's root: every mode is passed on, to be honoured or refused.
    ...(o.usernsOptions
      ? {
          usernsOptions: {
            mode: NAMESPACE_MODES[o.usernsOptions.mode] ?? 'pod',
            uids: o.usernsOptions.uids.map((m) => ({ hostId: m.hostId, containerId: m.containerId, length: m.length })),
            gids: o.usernsOptions.gids.map((m) => ({ hostId: m.hostId, containerId: m.containerId, length: m.length })),
          },
        }
      : {}),
  };
}

/** The structured field wins; else the deprecated string (`runtime/default`, `localhost/…`). */
export function securityProfile(profile: CriSecurityProfile | undefined, legacy: string): SecurityProfile | undefined {
  if (profile) {
    switch (profile.profileType) {
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { type: 'runtime-default' };
      case SecurityProfile_ProfileType.Unconfined:
        return { type: 'unconfined' };
      case SecurityProfile_ProfileType.Localhost:
        return { type: 'localhost', ref: profile.localhostRef };
    }
  }
  return profileFromLegacyPath(legacy);
}

const num = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));

export function resources(r: LinuxContainerResources | undefined): ResourcesInput | undefined {
  if (!r) return undefined;
  return {
    cpuPeriod: Number(r.cpuPeriod),
    cpuQuota: Number(r.cpuQuota),
    cpuShares: Number(r.cpuShares),
    memoryLimitInBytes: Number(r.memoryLimitInBytes),
    memorySwapLimitInBytes: Number(r.memorySwapLimitInBytes),
    oomScoreAdj: Number(r.oomScoreAdj),
    cpusetCpus: r.cpusetCpus,
    cpusetMems: r.cpusetMems,
    hugepageLimits: r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: Number(h.limit) })),
    unified: r.unified,
  };
}

export function containerSecurity(sc: LinuxContainerSecurityContext | undefined): ContainerSecurityInput {
  if (!sc) return { namespaceOptions: namespaceOptions(undefined) };
  const out: ContainerSecurityInput = {
    capabilities: sc.capabilities
      ? {
          addCapabilities: sc.capabilities.addCapabilities,
          dropCapabilities: sc.capabilities.dropCapabilities,
          addAmbientCapabilities: sc.capabilities.addAmbientCapabilities,
        }
      : undefined,
    privileged: sc.privileged,
    namespaceOptions: namespaceOptions(sc.namespaceOptions),
    runAsUser: num(sc.runAsUser?.value),
    runAsGroup: num(sc.runAsGroup?.value),
    runAsUsername: sc.runAsUsername || undefined,
    readonlyRootfs: sc.readonlyRootfs,
    supplementalGroups: sc.supplementalGroups.map(Number),
    supplementalGroupsPolicy: sc.supplementalGroupsPolicy === 1 ? 'strict' : 'merge',
    noNewPrivs: sc.noNewPrivs,
    // An empty list cannot be told from an unset one on the wire: both mean the defaults.
    maskedPaths: sc.maskedPaths.length > 0 ? sc.maskedPaths : undefined,
    readonlyPaths: sc.readonlyPaths.length > 0 ? sc.readonlyPaths : undefined,
    seccomp: securityProfile(sc.seccomp, sc.seccompProfilePath),
    apparmor: securityProfile(sc.apparmor, sc.apparmorProfile),
  };
  return out;
}

const PROPAGATION = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'private',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'host-to-container',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'bidirectional',
} as const;

export function containerConfig(c: ContainerConfig): ContainerConfigInput {
  return {
    name: c.metadata?.name,
    command: c.command,
    args: c.args,
    workingDir: c.workingDir,
    envs: c.envs.map((e) => ({ key: e.key, value: Buffer.from(e.value).toString('utf8') })),
    mounts: c.mounts.map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      selinuxRelabel: m.selinuxRelabel,
      propagation: PROPAGATION[m.propagation as 0 | 1 | 2] ?? 'private',
      recursiveReadOnly: m.recursiveReadOnly,
    })),
    devices: c.devices.map((d) => ({ containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions })),
    tty: c.tty,
    stdin: c.stdin,
    resources: resources(c.linux?.resources),
    securityContext: containerSecurity(c.linux?.securityContext),
  };
}

/** The pod's namespace options, as RunPodSandbox received them. */
export function podNamespaceOptions(pod: PodSandboxConfig): NamespaceOptionsInput {
  return namespaceOptions(pod.linux?.securityContext?.namespaceOptions);
}
