// The built-in RuntimeDefault seccomp profile, as data: everything is refused with EPERM except an
// allow-list of system calls that ordinary programs use (the list that Docker made the norm and
// containerd ships), plus calls that only make sense with a capability, which are allowed when the
// container holds it. Names unknown to the host's libseccomp are skipped by runc and crun, so the
// list may name calls newer than the kernel.

import type { LinuxSeccomp, SeccompArch, SeccompSyscall } from '../../oci/runtime-spec.ts';

const EPERM = 1;
const ENOSYS = 38;

const names = (text: string): string[] => text.split(/\s+/).filter((n) => n !== '');

/** Allowed for every container on every architecture. */
export const DEFAULT_ALLOWED_SYSCALLS: readonly string[] = Object.freeze(
  names(`
  accept accept4 access adjtimex alarm
  bind brk
  cachestat capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
  clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
  dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve
  execveat exit exit_group
  faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
  fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
  fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
  get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
  getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
  getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr
  getxattrat
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc
  kill
  landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount
  listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lsm_get_self_attr lsm_list_modules lsm_set_self_attr
  lstat lstat64
  madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap
  mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
  mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
  name_to_handle_at nanosleep newfstatat _newselect
  open openat openat2
  pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv
  preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2
  read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr
  removexattrat rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
  rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
  sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
  sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
  set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
  setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
  setsid setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
  sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink symlinkat sync
  sync_file_range syncfs sysinfo
  tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
  timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64
  ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes
  vfork vmsplice
  wait4 waitid waitpid write writev
`),
);

/** The seccomp architectures a profile covers, by Node.js architecture: the native one and its compat ABIs. */
export const SECCOMP_ARCHITECTURES: Readonly<Record<string, readonly SeccompArch[]>> = Object.freeze({
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  ia32: ['SCMP_ARCH_X86'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  arm: ['SCMP_ARCH_ARM'],
  ppc64: ['SCMP_ARCH_PPC64LE'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  loong64: ['SCMP_ARCH_LOONGARCH64'],
});

/** Allowed in addition on one architecture. */
export const ARCH_ALLOWED_SYSCALLS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  x64: names('arch_prctl modify_ldt'),
  ia32: names('modify_ldt'),
  arm64: names('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
  arm: names('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
  ppc64: names('sync_file_range2 swapcontext'),
  s390x: names('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'),
  riscv64: names('riscv_flush_icache riscv_hwprobe'),
});

/** Allowed in addition when the container's bounding set holds the capability. */
export const CAPABILITY_ALLOWED_SYSCALLS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  CAP_DAC_READ_SEARCH: names('open_by_handle_at'),
  CAP_SYS_ADMIN: names(`
    bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree
    perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare
  `),
  CAP_SYS_BOOT: names('reboot'),
  CAP_SYS_CHROOT: names('chroot'),
  CAP_SYS_MODULE: names('delete_module init_module finit_module'),
  CAP_SYS_PACCT: names('acct'),
  CAP_SYS_PTRACE: names('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
  CAP_SYS_RAWIO: names('iopl ioperm'),
  CAP_SYS_TIME: names('settimeofday stime clock_settime clock_settime64'),
  CAP_SYS_TTY_CONFIG: names('vhangup'),
  CAP_SYS_NICE: names('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
  CAP_SYSLOG: names('syslog'),
  CAP_BPF: names('bpf'),
  CAP_PERFMON: names('perf_event_open'),
});

/** Allowed on kernels from 4.8, where seccomp can no longer be bypassed through ptrace. */
export const PTRACE_SYSCALLS: readonly string[] = Object.freeze(names('process_vm_readv process_vm_writev ptrace'));

/**
 * personality(2) is allowed only for these personas: Linux, UNAME26 (0x0020000), PER_LINUX32
 * (0x0008), both, and the query 0xffffffff.
 */
export const ALLOWED_PERSONALITIES: readonly number[] = Object.freeze([0x0, 0x0008, 0x20000, 0x20008, 0xffffffff]);

/** The clone(2) flags that create namespaces: refused without CAP_SYS_ADMIN. */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000; // CLONE_NEWNET

/** Address families socket(2) refuses: AF_ALG (38, the kernel crypto API) and AF_VSOCK (40). */
const AF_ALG = 38;
const AF_VSOCK = 40;

export interface DefaultSeccompOptions {
  /** The container's bounding capabilities: they unlock the calls of CAPABILITY_ALLOWED_SYSCALLS. */
  capabilities: readonly string[];
  /** Node.js architecture name (process.arch); default: this machine's. */
  arch?: string;
  /** The kernel release ("6.1.0-18-amd64"); ptrace is allowed unless it is older than 4.8. Default: allowed. */
  kernelRelease?: string;
}

const allow = (list: readonly string[]): SeccompSyscall => ({ names: [...list], action: 'SCMP_ACT_ALLOW' });

const kernelAtLeast = (release: string, major: number, minor: number): boolean => {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return true;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
};

/** The RuntimeDefault profile for a container holding `capabilities`. */
export function defaultSeccompProfile(options: DefaultSeccompOptions): LinuxSeccomp {
  const arch = options.arch ?? process.arch;
  const caps = new Set(options.capabilities);
  const syscalls: SeccompSyscall[] = [allow(DEFAULT_ALLOWED_SYSCALLS)];

  // socket(2) for every family but AF_ALG and AF_VSOCK, as three single-condition rules (one rule
  // with two conditions on the same argument would be an OR in runc). 32-bit x86 reaches socket()
  // through socketcall(2), which is allowed unconditionally.
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }] });
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }] });
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }] });

  for (const persona of ALLOWED_PERSONALITIES) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] });
  }
  if (options.kernelRelease === undefined || kernelAtLeast(options.kernelRelease, 4, 8)) syscalls.push(allow(PTRACE_SYSCALLS));
  const archCalls = ARCH_ALLOWED_SYSCALLS[arch];
  if (archCalls !== undefined) syscalls.push(allow(archCalls));

  for (const [cap, list] of Object.entries(CAPABILITY_ALLOWED_SYSCALLS)) {
    if (caps.has(cap)) syscalls.push(allow(list));
  }

  if (!caps.has('CAP_SYS_ADMIN')) {
    // clone(2) without namespace flags (on s390 the flags are the second argument), and clone3(2)
    // answers ENOSYS so that C libraries fall back to clone(2), whose flags can be inspected.
    const flagsIndex = arch === 's390x' ? 1 : 0;
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: flagsIndex, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }

  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: [...(SECCOMP_ARCHITECTURES[arch] ?? [])],
    syscalls,
  };
}
