// The OCI runtime spec of a pod's infra ("pause") container, for pods whose namespaces must be
// held by a process (a PID namespace shared by the pod's containers), as containerd builds it:
// read-only root, the image's command, the pod's hostname, sysctls and namespaces, 2 CPU shares
// and the lowest OOM score the daemon may give.

import { invalidArgument } from '../../errors/errors.ts';
import type { Linux, Mount, Process, RuntimeSpec } from '../../oci/runtime-spec.ts';
import { OCI_RUNTIME_SPEC_VERSION } from '../../oci/runtime-spec.ts';
import { criAnnotations } from './annotations.ts';
import { capabilitySets } from './capabilities.ts';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  DEFAULT_SANDBOX_CPU_SHARES,
  DEFAULT_SANDBOX_OOM_SCORE_ADJ,
  defaultDeviceRules,
  defaultMounts,
} from './defaults.ts';
import { namespaceList, sandboxNamespaceSources } from './namespaces.ts';
import { mergeEnv } from './process.ts';
import { cgroupsPath, clampOomScoreAdj, linuxResources } from './resources.ts';
import { chooseSeccomp } from './seccomp.ts';
import type { SandboxSpecInput } from './spec-input.ts';
import { resolveUser } from './user.ts';

export async function buildSandboxSpec(input: SandboxSpecInput): Promise<RuntimeSpec> {
  const host = input.host ?? {};
  const sc = input.securityContext ?? {};
  const ns = sc.namespaceOptions;

  const args = [...(input.image.Entrypoint ?? []), ...(input.image.Cmd ?? [])];
  if (args.length === 0) {
    throw invalidArgument('no-command', `the infra image ${input.imageName ?? '(unnamed)'} has neither Entrypoint nor Cmd`);
  }

  const user = await resolveUser(input.rootfs, {
    ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(input.image.User !== undefined ? { imageUser: input.image.User } : {}),
    supplementalGroups: sc.supplementalGroups ?? [],
    supplementalGroupsPolicy: 'strict',
  });

  const process: Process = {
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    args,
    env: mergeEnv([DEFAULT_PATH_ENV], input.image.Env ?? []),
    cwd: input.image.WorkingDir || '/',
    capabilities: capabilitySets(DEFAULT_CAPABILITIES),
    noNewPrivileges: true,
    oomScoreAdj: clampOomScoreAdj(input.oomScoreAdj ?? DEFAULT_SANDBOX_OOM_SCORE_ADJ, host.minOomScoreAdj),
  };
  if ((host.rlimits ?? []).length > 0) process.rlimits = host.rlimits!.map((r) => ({ ...r }));

  const sources = sandboxNamespaceSources(ns, input.namespacePaths ?? {});

  const shmPath = ns?.ipc === 'node' ? '/dev/shm' : input.shmPath;
  const mounts: Mount[] = defaultMounts({ ...(shmPath !== undefined ? { shmPath, shmReadonly: true } : {}) });
  if (input.resolvConfPath !== undefined && input.resolvConfPath !== '') {
    mounts.push({
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: input.resolvConfPath,
      options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'],
    });
  }

  const resources = linuxResources(undefined, host.pidsLimit !== undefined ? { pidsLimit: host.pidsLimit } : {});
  resources.cpu = { shares: DEFAULT_SANDBOX_CPU_SHARES };
  resources.devices = defaultDeviceRules();

  const linux: Linux = {
    resources,
    namespaces: namespaceList(sources),
    maskedPaths: [...DEFAULT_MASKED_PATHS],
    readonlyPaths: [...DEFAULT_READONLY_PATHS],
  };
  const cgPath = cgroupsPath(input.cgroupParent, input.id, host.cgroupDriver);
  if (cgPath !== undefined) linux.cgroupsPath = cgPath;
  if (input.sysctls !== undefined && Object.keys(input.sysctls).length > 0) linux.sysctl = { ...input.sysctls };
  const seccomp = await chooseSeccomp({
    profile: sc.seccomp,
    privileged: sc.privileged === true,
    capabilities: DEFAULT_CAPABILITIES,
    ...(host.seccompEnabled !== undefined ? { seccompEnabled: host.seccompEnabled } : {}),
    ...(host.arch !== undefined ? { arch: host.arch } : {}),
    ...(host.kernelRelease !== undefined ? { kernelRelease: host.kernelRelease } : {}),
    ...(host.seccompProfileRoot !== undefined ? { profileRoot: host.seccompProfileRoot } : {}),
  });
  if (seccomp !== undefined) linux.seccomp = seccomp;

  const spec: RuntimeSpec = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process,
    root: { path: input.rootPath ?? input.rootfs, readonly: true },
  };
  // The hostname is set where the pod has a UTS namespace that this container creates.
  if (sources.uts === 'new' && input.hostname !== undefined && input.hostname !== '') spec.hostname = input.hostname;
  spec.mounts = mounts;
  spec.annotations = criAnnotations(
    {
      type: 'sandbox',
      sandboxId: input.id,
      sandboxName: input.name,
      sandboxNamespace: input.namespace,
      sandboxUid: input.uid,
      imageName: input.imageName,
    },
    input.annotations,
  );
  spec.linux = linux;
  return spec;
}
