// A pod in a user namespace of its own (CRI NamespaceOption.userns_options mode POD, the kubelet's
// hostUsers: false): each of its containers gets a new user namespace with the pod's uid and gid
// mappings. The pod's network and IPC namespaces stay owned by the node's user namespace (they are
// made before any container), so the kernel refuses a sysfs or mqueue mount from inside: /sys is
// the node's, bound read-only, as runc does for rootless containers, and /dev/mqueue is left out.
// Never the node's user namespace in silence: anything but NODE or POD with mappings is refused.
import { invalidArgument } from '../../errors/errors.ts';
import type { IdMapping, Mount } from '../../oci/runtime-spec.ts';
import type { IdMappingInput, NamespaceOptionsInput, UserNamespaceInput } from './spec-input.ts';

export interface UserNamespaceMappings {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

const MAX_ID = 2 ** 32 - 1;

function mappings(kind: 'uid' | 'gid', list: IdMappingInput[] | undefined): IdMapping[] {
  if (list === undefined || list.length === 0) {
    throw invalidArgument('invalid-userns', `a user namespace of mode POD needs ${kind} mappings`, { fields: { kind } });
  }
  return list.map((m) => {
    const ok = [m.hostId, m.containerId, m.length].every((n) => Number.isInteger(n) && n >= 0 && n <= MAX_ID);
    if (!ok || m.length === 0 || m.hostId + m.length > MAX_ID + 1 || m.containerId + m.length > MAX_ID + 1) {
      throw invalidArgument('invalid-userns', `bad ${kind} mapping ${JSON.stringify(m)}`, { fields: { kind } });
    }
    return { containerID: m.containerId, hostID: m.hostId, size: m.length };
  });
}

/** The mappings of a user namespace the options ask for; undefined for the node's. */
export function userNamespaceMappings(userns: UserNamespaceInput | undefined): UserNamespaceMappings | undefined {
  if (userns === undefined || userns.mode === 'node') return undefined;
  if (userns.mode !== 'pod') {
    throw invalidArgument('invalid-userns', `user namespace mode ${userns.mode.toUpperCase()} is not supported (only NODE and POD)`, {
      fields: { mode: userns.mode },
    });
  }
  return { uidMappings: mappings('uid', userns.uids), gidMappings: mappings('gid', userns.gids) };
}

/** A pod in its own user namespace may not use the node's namespaces (the kubelet refuses these too). */
export function checkPodUserNamespace(options: NamespaceOptionsInput | undefined): void {
  if (userNamespaceMappings(options?.usernsOptions) === undefined) return;
  for (const kind of ['network', 'pid', 'ipc'] as const) {
    if (options?.[kind] === 'node') {
      throw invalidArgument('invalid-userns', `a pod in a user namespace cannot use the node's ${kind} namespace`, {
        fields: { namespace: kind },
      });
    }
  }
}

/**
 * A pod sandbox in its own user namespace: as checkPodUserNamespace, and no shared PID namespace
 * (the infra container would hold it outside the pod's user namespace, where its containers could
 * not mount /proc).
 */
export function checkSandboxUserNamespace(options: NamespaceOptionsInput | undefined): void {
  checkPodUserNamespace(options);
  if ((options?.pid ?? 'pod') === 'pod' && userNamespaceMappings(options?.usernsOptions) !== undefined) {
    throw invalidArgument(
      'invalid-userns',
      'a pod in a user namespace cannot share one PID namespace among its containers (shareProcessNamespace)',
    );
  }
}

/** The host ID that an ID inside the namespace maps to, if any. */
export function hostIdOf(list: IdMapping[], id: number): number | undefined {
  const m = list.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return m === undefined ? undefined : m.hostID + (id - m.containerID);
}

/** The mounts a container in a user namespace can have: the node's /sys bound read-only (writable when privileged), no mqueue. */
export function userNamespaceMounts(mounts: Mount[], privileged: boolean): Mount[] {
  return mounts
    .filter((m) => m.type !== 'mqueue')
    .map((m) =>
      m.type === 'sysfs'
        ? {
            destination: m.destination,
            type: 'bind',
            source: '/sys',
            options: ['rbind', 'nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
          }
        : m,
    );
}
