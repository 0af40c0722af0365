// What the spec builders take: plain data mirroring the CRI fields they need (camelCase like the
// generated CRI types, int64 as number), so the services layer maps CRI messages onto these and
// nothing here depends on the gRPC types. Absent optional fields mean what an unset CRI field means.

import type { ImageRuntimeConfig } from '../../oci/image-spec.ts';
import type { LinuxDevice, PosixRlimit } from '../../oci/runtime-spec.ts';

/** A seccomp or AppArmor profile choice (CRI SecurityProfile). */
export type SecurityProfile =
  | { type: 'runtime-default' }
  | { type: 'unconfined' }
  /** seccomp: an absolute path of a JSON profile on the host; AppArmor: a loaded profile's name. */
  | { type: 'localhost'; ref: string };

/** CRI NamespaceMode, lower-cased. */
export type NamespaceMode = 'pod' | 'container' | 'node' | 'target';

export interface IdMappingInput {
  hostId: number;
  containerId: number;
  length: number;
}

export interface UserNamespaceInput {
  mode: NamespaceMode;
  uids?: IdMappingInput[];
  gids?: IdMappingInput[];
}

/** CRI NamespaceOption. Unset modes are 'pod', as in CRI (enum value 0). */
export interface NamespaceOptionsInput {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  /** The container whose PID namespace a 'target' pid mode joins (resolved by the caller to `targetPidNamespace`). */
  targetId?: string;
  usernsOptions?: UserNamespaceInput;
}

/** Paths of the pod's namespaces (bind-mounted namespace files, or /proc/<pid>/ns/* of an infra process). */
export interface PodNamespacePaths {
  network?: string;
  ipc?: string;
  uts?: string;
  pid?: string;
}

export type MountPropagation = 'private' | 'host-to-container' | 'bidirectional';

/** CRI Mount. */
export interface MountInput {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  /** Accepted and ignored: SELinux is not supported. */
  selinuxRelabel?: boolean;
  propagation?: MountPropagation;
  recursiveReadOnly?: boolean;
  uidMappings?: IdMappingInput[];
  gidMappings?: IdMappingInput[];
}

/** CRI Device. */
export interface DeviceInput {
  containerPath: string;
  hostPath: string;
  /** Any of "r", "w", "m"; empty means "rwm". */
  permissions?: string;
}

export interface HugepageLimitInput {
  /** e.g. "2MB", "1GB" */
  pageSize: string;
  limit: number;
}

/** CRI LinuxContainerResources. Zero means unset, as in CRI. */
export interface ResourcesInput {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  memorySwapLimitInBytes?: number;
  oomScoreAdj?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  hugepageLimits?: HugepageLimitInput[];
  unified?: Record<string, string>;
}

export interface CapabilityInput {
  addCapabilities?: string[];
  dropCapabilities?: string[];
  /** Ambient capabilities are cleared, as containerd and CRI-O do; a request for them is an error. */
  addAmbientCapabilities?: string[];
}

/** CRI LinuxContainerSecurityContext (deprecated string fields are mapped by the caller with `profileFromLegacyPath`). */
export interface ContainerSecurityInput {
  capabilities?: CapabilityInput;
  privileged?: boolean;
  namespaceOptions?: NamespaceOptionsInput;
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  /** Not a CRI field (the kubelet checks it); when true, a container that would run as uid 0 is refused. */
  runAsNonRoot?: boolean;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  /** CRI SupplementalGroupsPolicy: 'merge' (default) adds the groups of /etc/group, 'strict' does not. */
  supplementalGroupsPolicy?: 'merge' | 'strict';
  noNewPrivs?: boolean;
  /** Absent: the default list; present (even empty): exactly these. */
  maskedPaths?: string[];
  /** Absent: the default list; present (even empty): exactly these. */
  readonlyPaths?: string[];
  /** Absent: unconfined (as with containerd when the kubelet sends none). */
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** CRI ContainerConfig, the fields that shape the spec. */
export interface ContainerConfigInput {
  name?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: KeyValue[];
  mounts?: MountInput[];
  devices?: DeviceInput[];
  tty?: boolean;
  stdin?: boolean;
  resources?: ResourcesInput;
  securityContext?: ContainerSecurityInput;
}

export type CgroupDriver = 'cgroupfs' | 'systemd';

/** What the daemon knows about its host and configuration; read once by the entry point (see host-features.ts). */
export interface HostOptions {
  cgroupDriver?: CgroupDriver;
  /** cgroup v2 unified hierarchy: unprivileged containers get a cgroup namespace. */
  cgroupV2?: boolean;
  /** Every capability the daemon may hand out (its own bounding set); "ALL" and privileged use these. Default: all known. */
  allCapabilities?: readonly string[];
  /** The daemon's own oom_score_adj: lower requests are raised to it (no CAP_SYS_RESOURCE needed). */
  minOomScoreAdj?: number;
  /** The memory controller accounts swap (memsw on v1, memory.swap.max on v2). */
  swapAvailable?: boolean;
  /** The hugetlb controller exists; without it hugepage limits are dropped. */
  hugetlbAvailable?: boolean;
  /** Seccomp is usable (default true). */
  seccompEnabled?: boolean;
  /** AppArmor is enabled in the kernel (default false). */
  apparmorEnabled?: boolean;
  /** A pids limit for every container; absent or <= 0: none. */
  pidsLimit?: number;
  /** Privileged containers get all devices allowed but not the host's device nodes. */
  privilegedWithoutHostDevices?: boolean;
  /** The host's device nodes for privileged containers; absent: read from /dev when needed. */
  hostDevices?: readonly LinuxDevice[];
  /** Where relative `localhost/` seccomp profiles are (default the kubelet's /var/lib/kubelet/seccomp). */
  seccompProfileRoot?: string;
  /** Node.js architecture name of the seccomp profile (default: process.arch). */
  arch?: string;
  /** The kernel release (os.release()); the default seccomp profile allows ptrace from 4.8. */
  kernelRelease?: string;
  /** Default rlimits for every process; absent: none (inherited from the runtime). */
  rlimits?: readonly PosixRlimit[];
  /** Where /proc/self/mountinfo is, to check the propagation of a mount source (tests point elsewhere). */
  mountInfoPath?: string;
}

/** What the container spec needs from its pod. */
export interface PodInput {
  id: string;
  name?: string;
  namespace?: string;
  uid?: string;
  /** The pod's hostname (the node's when the pod has none); also the HOSTNAME variable. */
  hostname: string;
  privileged?: boolean;
  cgroupParent?: string;
  namespacePaths?: PodNamespacePaths;
  /** The pod's own files, bind-mounted unless the container mounts something there itself. */
  hostsPath?: string;
  resolvConfPath?: string;
  hostnamePath?: string;
  /** The pod's /dev/shm (a tmpfs the pod owns); absent: a private 64 MiB tmpfs. */
  shmPath?: string;
  /** Namespaced sysctls of the pod, if the runtime applies them per container. */
  sysctls?: Record<string, string>;
  /** The pod's namespace options (a container with host network shares the pod's). */
  namespaceOptions?: NamespaceOptionsInput;
}

export interface ContainerSpecInput {
  id: string;
  config: ContainerConfigInput;
  /** The `config` object of the image configuration. */
  image: ImageRuntimeConfig;
  imageName?: string;
  /** The container's root filesystem on the host, mounted: users and groups are looked up in it. */
  rootfs: string;
  /** root.path in the spec; default: `rootfs`. */
  rootPath?: string;
  pod: PodInput;
  host?: HostOptions;
  /** The PID namespace of the target container, for pid mode 'target'. */
  targetPidNamespace?: string;
  /** Mounts the runtime adds (image volumes…); a CRI mount at the same path wins. */
  extraMounts?: MountInput[];
  /** Annotations to pass to the runtime (the CRI ones are added). */
  annotations?: Record<string, string>;
}

/** CRI LinuxSandboxSecurityContext, the fields that shape the infra container. */
export interface SandboxSecurityInput {
  namespaceOptions?: NamespaceOptionsInput;
  runAsUser?: number;
  runAsGroup?: number;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  privileged?: boolean;
  seccomp?: SecurityProfile;
}

export interface SandboxSpecInput {
  id: string;
  name?: string;
  namespace?: string;
  uid?: string;
  hostname?: string;
  cgroupParent?: string;
  sysctls?: Record<string, string>;
  securityContext?: SandboxSecurityInput;
  /** The `config` object of the infra image; Entrypoint and Cmd give the command. */
  image: ImageRuntimeConfig;
  imageName?: string;
  rootfs: string;
  rootPath?: string;
  /** Namespaces that already exist (pinned); the others not shared with the node are created. */
  namespacePaths?: PodNamespacePaths;
  /** The pod's /dev/shm on the host (bind-mounted); absent: a private tmpfs. */
  shmPath?: string;
  resolvConfPath?: string;
  /** Default -998, as containerd's sandbox; clamped to host.minOomScoreAdj. */
  oomScoreAdj?: number;
  host?: HostOptions;
  annotations?: Record<string, string>;
}
