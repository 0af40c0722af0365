// A CRI security context as Docker's HostConfig fields: user, capabilities, privileged, read-only
// root, seccomp, AppArmor, no-new-privileges, masked and read-only paths. Refusals are berth
// daemon's: unknown capabilities, Localhost profiles outside the profile root, bad profiles.
import type Docker from 'dockerode';
import { normalizeCapability, parseCapability } from '../runtime/spec/capabilities.ts';
import { loadLocalhostSeccompProfile } from '../runtime/spec/seccomp.ts';
import type { ContainerSecurityInput, SecurityProfile } from '../runtime/spec/spec-input.ts';
import { userString } from '../runtime/spec/user.ts';

type HostConfig = NonNullable<Docker.ContainerCreateOptions['HostConfig']>;

export interface SecurityFields {
  user?: string;
  hostConfig: Pick<
    HostConfig,
    'Privileged' | 'ReadonlyRootfs' | 'CapAdd' | 'CapDrop' | 'SecurityOpt' | 'GroupAdd' | 'MaskedPaths' | 'ReadonlyPaths'
  >;
}

/** `uid[:gid]`, `name[:gid]`, or nothing for the image's user; a group without a user is refused, as by berth daemon. */
export function dockerUser(sc: Pick<ContainerSecurityInput, 'runAsUser' | 'runAsUsername' | 'runAsGroup'>): string | undefined {
  return userString({ runAsUser: sc.runAsUser, runAsUsername: sc.runAsUsername, runAsGroup: sc.runAsGroup }) || undefined;
}

async function seccompOpt(profile: SecurityProfile | undefined, profileRoot: string): Promise<string | undefined> {
  switch (profile?.type) {
    case 'unconfined':
      return 'seccomp=unconfined';
    case 'localhost':
      // Docker takes the profile itself, not a path; read and checked as berth daemon reads it.
      return `seccomp=${JSON.stringify(await loadLocalhostSeccompProfile(profile.ref ?? '', profileRoot))}`;
    case 'runtime-default':
      return undefined; // the engine's default profile
    default:
      // The CRI without a profile means unconfined (as containerd and cri-dockerd run it), not Docker's default.
      return 'seccomp=unconfined';
  }
}

function appArmorOpt(profile: SecurityProfile | undefined): string | undefined {
  switch (profile?.type) {
    case 'unconfined':
      return 'apparmor=unconfined';
    case 'localhost':
      return `apparmor=${(profile.ref ?? '').replace(/^localhost\//, '')}`;
    default:
      return undefined; // docker-default, when the host has AppArmor
  }
}

const withoutPrefix = (cap: string) => cap.replace(/^CAP_/, '');
/** Docker's names: without CAP_; ALL as is (Docker expands it). Unknown names refused. */
const dockerCapability = (name: string, what: 'add' | 'drop') =>
  normalizeCapability(name) === 'ALL' ? 'ALL' : withoutPrefix(parseCapability(name, what));

export async function securityFields(sc: ContainerSecurityInput, profileRoot: string): Promise<SecurityFields> {
  // A privileged container has no seccomp filter whatever the profile says, as with runc pods.
  const seccomp = sc.privileged ? 'seccomp=unconfined' : await seccompOpt(sc.seccomp, profileRoot);
  const securityOpt = [seccomp, appArmorOpt(sc.apparmor)].filter((o): o is string => o !== undefined);
  if (sc.noNewPrivs) securityOpt.push('no-new-privileges');
  const hostConfig: SecurityFields['hostConfig'] = {
    Privileged: sc.privileged ?? false,
    ReadonlyRootfs: sc.readonlyRootfs ?? false,
    CapAdd: (sc.capabilities?.addCapabilities ?? []).map((c) => dockerCapability(c, 'add')),
    CapDrop: (sc.capabilities?.dropCapabilities ?? []).map((c) => dockerCapability(c, 'drop')),
    SecurityOpt: securityOpt,
    GroupAdd: (sc.supplementalGroups ?? []).map(String),
  };
  // Privileged containers see everything, as with runc pods.
  if (!sc.privileged && sc.maskedPaths !== undefined) hostConfig.MaskedPaths = sc.maskedPaths;
  if (!sc.privileged && sc.readonlyPaths !== undefined) hostConfig.ReadonlyPaths = sc.readonlyPaths;
  const user = dockerUser(sc);
  return user === undefined ? { hostConfig } : { user, hostConfig };
}
