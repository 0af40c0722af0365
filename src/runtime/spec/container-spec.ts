// The OCI runtime spec of a container in a pod: the image config and the CRI container config
// merged as containerd merges them. Reads what it must from the host (the image's user database,
// device nodes, a Localhost seccomp profile, mountinfo) and creates missing bind-mount sources.

import type { Linux, LinuxResources, Process, RuntimeSpec } from '../../oci/runtime-spec.ts';
import { OCI_RUNTIME_SPEC_VERSION } from '../../oci/runtime-spec.ts';
import { criAnnotations } from './annotations.ts';
import { chooseAppArmorProfile } from './apparmor.ts';
import { allDevicesAllowed, defaultDeviceRules } from './defaults.ts';
import { containerDevices, hostDevices } from './devices.ts';
import { containerMounts, podFileMounts } from './mounts.ts';
import { containerNamespaceSources, namespaceList } from './namespaces.ts';
import { processArgs, processCwd, processEnv } from './process.ts';
import { cgroupsPath, clampOomScoreAdj, linuxResources } from './resources.ts';
import { chooseSeccomp } from './seccomp.ts';
import { checkRunAsNonRoot, containerSecurity } from './security.ts';
import type { ContainerSpecInput, MountInput } from './spec-input.ts';
import { resolveUser, userString } from './user.ts';
import { userNamespaceMappings, userNamespaceMounts } from './user-namespace.ts';

/** The spec (config.json) of a container. Errors are BerthErrors: invalid-argument for a bad request. */
export async function buildContainerSpec(input: ContainerSpecInput): Promise<RuntimeSpec> {
  const { config, image, pod } = input;
  const host = input.host ?? {};
  const sc = config.securityContext ?? {};

  const security = containerSecurity(sc, pod.privileged === true, host.allCapabilities);

  const userReq = {
    ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(sc.runAsUsername !== undefined ? { runAsUsername: sc.runAsUsername } : {}),
    ...(image.User !== undefined ? { imageUser: image.User } : {}),
    supplementalGroups: sc.supplementalGroups ?? [],
    supplementalGroupsPolicy: sc.supplementalGroupsPolicy ?? 'merge',
  };
  const user = await resolveUser(input.rootfs, userReq);
  checkRunAsNonRoot(sc.runAsNonRoot, user.uid, userString(userReq));

  const nsOptions = sc.namespaceOptions ?? pod.namespaceOptions;
  const sources = containerNamespaceSources(nsOptions, pod.namespacePaths ?? {}, input.targetPidNamespace);
  const userns = userNamespaceMappings(nsOptions?.usernsOptions);

  const process: Process = {
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    args: processArgs(config.command, config.args, image),
    env: processEnv(image, config.envs, { hostname: pod.hostname, tty: config.tty === true }),
    cwd: processCwd(config.workingDir, image),
    capabilities: security.capabilities,
    noNewPrivileges: security.noNewPrivileges,
  };
  if (config.tty === true) process.terminal = true;
  if ((host.rlimits ?? []).length > 0) process.rlimits = host.rlimits!.map((r) => ({ ...r }));
  const apparmor = chooseAppArmorProfile(sc.apparmor, security.privileged, host.apparmorEnabled === true);
  if (apparmor !== undefined) process.apparmorProfile = apparmor;
  if (config.resources !== undefined) process.oomScoreAdj = clampOomScoreAdj(config.resources.oomScoreAdj ?? 0, host.minOomScoreAdj);

  // Mounts: the pod's files and the runtime's extra mounts yield to the CRI mounts at the same path.
  const criMounts = config.mounts ?? [];
  const files = {
    ...(pod.hostnamePath !== undefined ? { hostnamePath: pod.hostnamePath } : {}),
    ...(pod.hostsPath !== undefined ? { hostsPath: pod.hostsPath } : {}),
    ...(pod.resolvConfPath !== undefined ? { resolvConfPath: pod.resolvConfPath } : {}),
  };
  const extra: MountInput[] = [...(await podFileMounts(files, criMounts, security.readonlyRootfs)), ...(input.extraMounts ?? [])];
  // With the node's IPC namespace the container sees the node's /dev/shm, as containerd does.
  const shmPath = (nsOptions?.ipc ?? 'pod') === 'node' ? '/dev/shm' : pod.shmPath;
  const mounts = await containerMounts({
    mounts: criMounts,
    extra,
    privileged: security.privileged,
    ...(shmPath !== undefined ? { shmPath } : {}),
    ...(host.mountInfoPath !== undefined ? { mountInfoPath: host.mountInfoPath } : {}),
  });

  // Devices: the requested ones; a privileged container gets the host's and may open any.
  const requested = await containerDevices(config.devices ?? []);
  const devices = [...requested.devices];
  const resources: LinuxResources = linuxResources(config.resources, {
    ...(host.swapAvailable !== undefined ? { swapAvailable: host.swapAvailable } : {}),
    ...(host.hugetlbAvailable !== undefined ? { hugetlbAvailable: host.hugetlbAvailable } : {}),
    ...(host.pidsLimit !== undefined ? { pidsLimit: host.pidsLimit } : {}),
  });
  if (security.privileged) {
    if (host.privilegedWithoutHostDevices !== true) {
      const seen = new Set(devices.map((d) => d.path));
      for (const d of host.hostDevices ?? (await hostDevices())) if (!seen.has(d.path)) devices.push({ ...d });
    }
    resources.devices = allDevicesAllowed();
  } else {
    resources.devices = [...defaultDeviceRules(), ...requested.rules];
  }

  const seccomp = await chooseSeccomp({
    profile: sc.seccomp,
    privileged: security.privileged,
    capabilities: security.bounding,
    ...(host.seccompEnabled !== undefined ? { seccompEnabled: host.seccompEnabled } : {}),
    ...(host.arch !== undefined ? { arch: host.arch } : {}),
    ...(host.kernelRelease !== undefined ? { kernelRelease: host.kernelRelease } : {}),
    ...(host.seccompProfileRoot !== undefined ? { profileRoot: host.seccompProfileRoot } : {}),
  });

  const linux: Linux = {
    resources,
    namespaces: namespaceList(sources, host.cgroupV2 === true && !security.privileged, userns !== undefined),
    maskedPaths: security.maskedPaths,
    readonlyPaths: security.readonlyPaths,
  };
  const cgPath = cgroupsPath(pod.cgroupParent, input.id, host.cgroupDriver);
  if (cgPath !== undefined) linux.cgroupsPath = cgPath;
  if (userns !== undefined) Object.assign(linux, userns);
  if (devices.length > 0) linux.devices = devices;
  if (seccomp !== undefined) linux.seccomp = seccomp;
  if (mounts.rootfsPropagation !== undefined) linux.rootfsPropagation = mounts.rootfsPropagation;
  if (pod.sysctls !== undefined && Object.keys(pod.sysctls).length > 0) linux.sysctl = { ...pod.sysctls };

  const spec: RuntimeSpec = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process,
    root: { path: input.rootPath ?? input.rootfs, readonly: security.readonlyRootfs },
  };
  // A container with a UTS namespace of its own (not the pod's, not the node's) is named after the pod.
  if (sources.uts === 'new' && pod.hostname !== '') spec.hostname = pod.hostname;
  spec.mounts = userns === undefined ? mounts.mounts : userNamespaceMounts(mounts.mounts, security.privileged);
  spec.annotations = criAnnotations(
    {
      type: 'container',
      sandboxId: pod.id,
      sandboxName: pod.name,
      sandboxNamespace: pod.namespace,
      sandboxUid: pod.uid,
      containerName: config.name,
      imageName: input.imageName,
    },
    input.annotations,
  );
  spec.linux = linux;
  return spec;
}
