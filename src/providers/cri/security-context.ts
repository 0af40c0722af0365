// Pod and container security contexts into CRI terms, as the kubelet converts them
// (kuberuntime/security_context.go, securitycontext/): namespaces, users, capabilities,
// privileged, masked paths, no_new_privs, seccomp.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Container, Pod, SeccompProfile } from '../../agent/k8s-types.ts';
import type {
  LinuxContainerSecurityContextSchema,
  LinuxSandboxSecurityContextSchema,
  NamespaceOptionSchema,
} from '../../cri-api/gen/runtime/v1/api_pb.js';
import { NamespaceMode, SecurityProfile_ProfileType } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../../errors/errors.ts';

type NamespaceOptionInit = MessageInitShape<typeof NamespaceOptionSchema>;
type SandboxSecurityInit = MessageInitShape<typeof LinuxSandboxSecurityContextSchema>;
type ContainerSecurityInit = MessageInitShape<typeof LinuxContainerSecurityContextSchema>;

/** /proc and /sys paths hidden from unprivileged containers (securitycontext.defaultMaskedPaths). */
export const DEFAULT_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function namespaceOptions(pod: Pod): NamespaceOptionInit {
  const { hostNetwork, hostPID, hostIPC, shareProcessNamespace } = pod.spec;
  // The kubelet gives such a pod an ID range of its own; without that allocation here it would run
  // as the node's root, so it is refused.
  if (pod.spec.hostUsers === false) {
    throw invalidArgument(
      'userns-unsupported',
      'hostUsers: false is not supported by berth node yet (no user namespace ID ranges to give the pod)',
    );
  }
  return {
    network: hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: hostPID ? NamespaceMode.NODE : shareProcessNamespace ? NamespaceMode.POD : NamespaceMode.CONTAINER,
    ipc: hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
  };
}

function seccomp(profile: SeccompProfile | undefined): { profileType: SecurityProfile_ProfileType; localhostRef?: string } {
  switch (profile?.type) {
    case 'RuntimeDefault':
      return { profileType: SecurityProfile_ProfileType.RuntimeDefault };
    case 'Localhost':
      return { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: profile.localhostProfile ?? '' };
    default:
      // The kubelet's default without the SeccompDefault feature: unconfined.
      return { profileType: SecurityProfile_ProfileType.Unconfined };
  }
}

function anyContainerPrivileged(pod: Pod): boolean {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((c) => c.securityContext?.privileged === true);
}

export function sandboxSecurityContext(pod: Pod): SandboxSecurityInit {
  const sc = pod.spec.securityContext ?? {};
  return {
    namespaceOptions: namespaceOptions(pod),
    ...(sc.runAsUser !== undefined ? { runAsUser: { value: BigInt(sc.runAsUser) } } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: { value: BigInt(sc.runAsGroup) } } : {}),
    supplementalGroups: [...(sc.supplementalGroups ?? []), ...(sc.fsGroup !== undefined ? [sc.fsGroup] : [])].map(BigInt),
    privileged: anyContainerPrivileged(pod),
    seccomp: seccomp(sc.seccompProfile),
  };
}

/** The container's effective settings: its own security context over the pod's. */
export function containerSecurityContext(pod: Pod, container: Container): ContainerSecurityInit {
  const podSc = pod.spec.securityContext ?? {};
  const sc = container.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? podSc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? podSc.runAsGroup;
  const privileged = sc.privileged === true;
  const unmasked = privileged || sc.procMount === 'Unmasked';
  return {
    namespaceOptions: namespaceOptions(pod),
    privileged,
    ...(sc.capabilities !== undefined
      ? { capabilities: { addCapabilities: sc.capabilities.add ?? [], dropCapabilities: sc.capabilities.drop ?? [] } }
      : {}),
    ...(runAsUser !== undefined ? { runAsUser: { value: BigInt(runAsUser) } } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup: { value: BigInt(runAsGroup) } } : {}),
    supplementalGroups: [...(podSc.supplementalGroups ?? []), ...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : [])].map(BigInt),
    readonlyRootfs: sc.readOnlyRootFilesystem === true,
    noNewPrivs: sc.allowPrivilegeEscalation === false,
    maskedPaths: unmasked ? [] : DEFAULT_MASKED_PATHS,
    readonlyPaths: unmasked ? [] : DEFAULT_READONLY_PATHS,
    seccomp: seccomp(sc.seccompProfile ?? podSc.seccompProfile),
  };
}

/**
 * runAsNonRoot (kuberuntime verifyRunAsNonRoot): the user must be set and not 0, from the security
 * context or else from the image. Returns why it is refused, or undefined.
 */
export function runAsNonRootViolation(pod: Pod, container: Container, image: { uid?: number; username: string }): string | undefined {
  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
  if (runAsNonRoot !== true) return undefined;
  const runAsUser = container.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (runAsUser !== undefined) return runAsUser === 0 ? "container's runAsUser breaks non-root policy" : undefined;
  if (image.uid !== undefined) return image.uid === 0 ? 'container has runAsNonRoot and image will run as root' : undefined;
  if (image.username !== '') return 'container has runAsNonRoot and image has non-numeric user, cannot verify user is non-root';
  return 'container has runAsNonRoot and image will run as root';
}
