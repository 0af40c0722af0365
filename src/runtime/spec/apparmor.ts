// Which AppArmor profile a container runs under, following containerd.

import { failedPrecondition, invalidArgument } from '../../errors/errors.ts';
import type { SecurityProfile } from './spec-input.ts';

/** The profile name of RuntimeDefault (the daemon loads it into the kernel before use). */
export const DEFAULT_APPARMOR_PROFILE = 'berth-default';

/**
 * The profile name for process.apparmorProfile, or undefined for none.
 * - AppArmor disabled in the kernel: nothing, unless a profile other than Unconfined is asked for,
 *   which is an error (containerd fails loudly rather than run the container unconfined);
 * - enabled: Unconfined → none; RuntimeDefault (or nothing asked) → the default profile, except for
 *   privileged containers; Localhost → the named profile (a "localhost/" prefix is dropped).
 */
export function chooseAppArmorProfile(profile: SecurityProfile | undefined, privileged: boolean, enabled: boolean): string | undefined {
  if (!enabled) {
    if (profile !== undefined && profile.type !== 'unconfined') {
      throw failedPrecondition('apparmor-unsupported', `AppArmor is not enabled on this node; cannot apply the ${profile.type} profile`, {
        fields: { profile: profile.type },
      });
    }
    return undefined;
  }
  const p = profile ?? { type: 'runtime-default' };
  switch (p.type) {
    case 'unconfined':
      return undefined;
    case 'runtime-default':
      return privileged ? undefined : DEFAULT_APPARMOR_PROFILE;
    case 'localhost': {
      const name = p.ref.startsWith('localhost/') ? p.ref.slice('localhost/'.length) : p.ref;
      if (name === '') throw invalidArgument('invalid-apparmor-profile', 'an empty AppArmor profile name');
      return name;
    }
  }
}
