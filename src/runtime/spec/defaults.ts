// The defaults every container starts from, as containerd's CRI plugin has them: the mounts of a
// minimal Linux system, the capability set Docker made the norm, the /proc and /sys paths hidden
// from unprivileged containers, the device cgroup rules, and PATH.

import type { LinuxDeviceCgroup, Mount } from '../../oci/runtime-spec.ts';

/** The capabilities of an unprivileged container (containerd and Docker; CRI-O's default set is smaller). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Paths under /proc and /sys that an unprivileged container sees as empty. */
export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/scsi',
]);

/** Paths under /proc that an unprivileged container sees read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Size of a container's private /dev and /dev/shm (64 MiB, as Docker and containerd). */
export const DEFAULT_TMPFS_SIZE = 'size=65536k';

/** CPU shares of a pod's infra container (containerd's DefaultSandboxCPUshares). */
export const DEFAULT_SANDBOX_CPU_SHARES = 2;

/** oom_score_adj of a pod's infra container: the last thing the kernel kills (containerd and the kubelet). */
export const DEFAULT_SANDBOX_OOM_SCORE_ADJ = -998;

export interface DefaultMountOptions {
  /** sysfs and the cgroup mount read-write. */
  privileged?: boolean;
  /** The pod's /dev/shm to bind (read-write); absent: a private tmpfs. */
  shmPath?: string;
  /** Bind /dev/shm read-only (the infra container's view). */
  shmReadonly?: boolean;
}

/** The mounts of a minimal Linux system, in mount order. */
export function defaultMounts(options: DefaultMountOptions = {}): Mount[] {
  const rw = options.privileged === true ? 'rw' : 'ro';
  const shm: Mount =
    options.shmPath !== undefined
      ? {
          destination: '/dev/shm',
          type: 'bind',
          source: options.shmPath,
          options: ['rbind', options.shmReadonly === true ? 'ro' : 'rw', 'nosuid', 'nodev', 'noexec'],
        }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', DEFAULT_TMPFS_SIZE] };
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', DEFAULT_TMPFS_SIZE] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    shm,
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', rw] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', rw] },
  ];
}

const charDevice = (major: number | undefined, minor: number | undefined, access: string): LinuxDeviceCgroup => {
  const rule: LinuxDeviceCgroup = { allow: true, type: 'c' };
  if (major !== undefined) rule.major = major;
  if (minor !== undefined) rule.minor = minor;
  rule.access = access;
  return rule;
};

/**
 * The device cgroup of an unprivileged container: deny everything, then allow mknod of any node
 * (opening needs a rule) and the devices every process expects: null, zero, full, random, urandom,
 * tty, console, ptmx and the pseudo-terminals. runc adds the same list itself; writing it here keeps
 * the spec complete for any runtime.
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  return [
    { allow: false, access: 'rwm' },
    charDevice(undefined, undefined, 'm'),
    { allow: true, type: 'b', access: 'm' },
    charDevice(1, 3, 'rwm'), // null
    charDevice(1, 5, 'rwm'), // zero
    charDevice(1, 7, 'rwm'), // full
    charDevice(1, 8, 'rwm'), // random
    charDevice(1, 9, 'rwm'), // urandom
    charDevice(5, 0, 'rwm'), // tty
    charDevice(5, 1, 'rwm'), // console
    charDevice(5, 2, 'rwm'), // ptmx
    charDevice(136, undefined, 'rwm'), // pts/*
  ];
}

/** The device cgroup of a privileged container: everything. */
export function allDevicesAllowed(): LinuxDeviceCgroup[] {
  return [{ allow: true, access: 'rwm' }];
}
