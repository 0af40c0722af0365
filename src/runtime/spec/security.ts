// The security context of a container: privileged mode, capabilities, hidden and read-only /proc
// paths, no_new_privs, read-only root, and the run-as-non-root check.

import { invalidArgument } from '../../errors/errors.ts';
import type { LinuxCapabilities } from '../../oci/runtime-spec.ts';
import { applyCapabilityChanges, capabilitySets, KNOWN_CAPABILITIES } from './capabilities.ts';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults.ts';
import type { ContainerSecurityInput } from './spec-input.ts';

export interface SecuritySettings {
  privileged: boolean;
  capabilities: LinuxCapabilities;
  /** The bounding set, for the seccomp profile. */
  bounding: string[];
  maskedPaths: string[];
  readonlyPaths: string[];
  noNewPrivileges: boolean;
  readonlyRootfs: boolean;
}

/**
 * The security settings of a container. A privileged container needs a privileged pod, gets
 * every capability the daemon holds and no masked or read-only paths (sysfs, the cgroup mount,
 * devices and seccomp are handled where they are built). Otherwise: the default capabilities
 * changed by add/drop, and the masked and read-only paths of the request, or the defaults when
 * the request has none.
 */
export function containerSecurity(
  sc: ContainerSecurityInput | undefined,
  podPrivileged: boolean,
  allCapabilities: readonly string[] = KNOWN_CAPABILITIES,
): SecuritySettings {
  const privileged = sc?.privileged === true;
  if (privileged && !podPrivileged) {
    throw invalidArgument('privileged-not-allowed', 'no privileged container allowed in a sandbox that is not privileged');
  }
  if ((sc?.capabilities?.addAmbientCapabilities ?? []).length > 0) {
    throw invalidArgument('ambient-capabilities', 'ambient capabilities are not supported');
  }
  // Validate add/drop even when privileged overrides them, so a typo fails the same way everywhere.
  let caps = applyCapabilityChanges(
    DEFAULT_CAPABILITIES,
    sc?.capabilities?.addCapabilities,
    sc?.capabilities?.dropCapabilities,
    allCapabilities,
  );
  if (privileged) caps = [...allCapabilities];
  return {
    privileged,
    capabilities: capabilitySets(caps),
    bounding: caps,
    maskedPaths: privileged ? [] : [...(sc?.maskedPaths ?? DEFAULT_MASKED_PATHS)],
    readonlyPaths: privileged ? [] : [...(sc?.readonlyPaths ?? DEFAULT_READONLY_PATHS)],
    noNewPrivileges: sc?.noNewPrivs === true,
    readonlyRootfs: sc?.readonlyRootfs === true,
  };
}

/** With run_as_non_root, a process that would run as uid 0 is refused (the kubelet's check, done with the resolved uid). */
export function checkRunAsNonRoot(runAsNonRoot: boolean | undefined, uid: number, user: string): void {
  if (runAsNonRoot === true && uid === 0) {
    throw invalidArgument('run-as-root', `container has run_as_non_root and would run as root (user ${JSON.stringify(user || '0')})`, {
      fields: { uid, user },
    });
  }
}
