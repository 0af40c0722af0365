// The low-level runtime by role: run an OCI bundle under a monitor that outlives the daemon,
// record its exit, and answer for it after a restart. ConmonRuntime (conmon + runc/crun) backs it.
import type { LinuxResources } from '../../oci/runtime-spec.ts';

/** The OCI LinuxResources object (runtime-spec config-linux.md), passed to the runtime as JSON. */
export type { LinuxResources };

/** What the OCI runtime reports (`runc state`). */
export type ContainerRuntimeStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface CreateContainerOptions {
  /** The container ID; also runc's ID. Letters, digits, `_ . -`, at most 128 characters. */
  id: string;
  /** A directory with config.json and the root filesystem, prepared (mounted) by the caller. */
  bundle: string;
  /** The CRI log file the monitor writes (`<RFC 3339 time> stdout|stderr F|P <line>`). Its directory is created. */
  logPath: string;
  /** Keep a pipe to the container's stdin (attach). */
  stdin?: boolean;
  /** Close stdin after the first attach disconnects. */
  stdinOnce?: boolean;
  /** The process runs on a terminal; the log then has only `stdout` lines. */
  tty?: boolean;
  /** conmon `--log-size-max`: when the log would grow past this many bytes, conmon starts it over (empty). */
  logMaxSize?: number;
}

export interface CreateContainerResult {
  /** The container's init process, on the host. */
  pid: number;
  /** The monitor that holds the container's stdio and waits for its exit. */
  conmonPid: number;
  /** Where the time went, in milliseconds: until conmon had forked off its daemon, until runc create returned the pid. */
  durationsMs: { conmonFork: number; runtimeCreate: number };
}

export interface RuntimeState {
  status: ContainerRuntimeStatus;
  /** The init process on the host; 0 once stopped. */
  pid: number;
  bundle?: string;
  /** When the runtime created it, ms since the epoch. */
  createdAt?: number;
}

export type ExitReason =
  /** conmon recorded the exit code of the container's init process. */
  | 'exited'
  /** The monitor died before it could record an exit; the code is 255 (CRI-O and the kubelet use it for "unknown"). */
  | 'monitor-lost';

export interface ExitStatus {
  /** The init process's exit code; 128+N when killed by signal N; 255 when unknown. */
  exitCode: number;
  /** When it exited (or when the loss of its monitor was noticed), ms since the epoch. */
  exitedAt: number;
  /** The kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
  reason: ExitReason;
}

export interface KillOptions {
  /** Signal every process of the container (`runc kill --all`), not only its init. */
  all?: boolean;
}

export interface DeleteOptions {
  /** Kill a container that still runs (SIGKILL) instead of failing. */
  force?: boolean;
}

export interface ExecSyncOptions {
  /** argv of the command. */
  cmd: string[];
  /** `NAME=value` entries added to (and overriding) the container's environment. */
  env?: string[];
  /** Kill the command and everything it started after this long. 0 means no limit. */
  timeoutMs: number;
  /** Keep at most this many bytes of stdout and of stderr each. Default 16 MiB, as CRI-O. */
  maxOutputBytes?: number;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The command's exit code; 128+N when killed by signal N; -1 when it timed out (as CRI-O reports it). */
  exitCode: number;
  /** The timeout fired: the command and its descendants were killed. */
  timedOut: boolean;
  /** Output past `maxOutputBytes` was dropped. */
  truncated: { stdout: boolean; stderr: boolean };
}

/** What recover() found for one container that the state directory knows. */
export interface RecoveredContainer {
  id: string;
  bundle: string;
  logPath: string;
  /** `stopped` when the container exited (or lost its monitor) while nobody watched. */
  status: ContainerRuntimeStatus;
  pid: number;
  conmonPid: number;
  /** Set when status is `stopped`. */
  exit?: ExitStatus;
}

export interface RecoverResult {
  containers: RecoveredContainer[];
  /** IDs whose create never finished (the daemon died during it); their leftovers were removed. */
  discarded: string[];
}

export interface OciRuntime {
  /** Spawns the monitor, which runs `<runtime> create`; resolves once the container's init process exists. */
  create(options: CreateContainerOptions, signal?: AbortSignal): Promise<CreateContainerResult>;
  /** Runs the container's process (`<runtime> start`). */
  start(id: string, signal?: AbortSignal): Promise<void>;
  /** Sends a signal to the init process, or to every process with `all`. */
  kill(id: string, sig: NodeJS.Signals | number, options?: KillOptions, signal?: AbortSignal): Promise<void>;
  /** The runtime's view; not-found when it does not know the container. */
  state(id: string, signal?: AbortSignal): Promise<RuntimeState>;
  /**
   * Sends `stopSignal`, waits up to `timeoutSeconds`, then SIGKILLs every process of the container.
   * Resolves with the recorded exit once there is one.
   */
  stop(id: string, timeoutSeconds: number, stopSignal?: NodeJS.Signals | number, signal?: AbortSignal): Promise<ExitStatus>;
  /** Resolves when the exit is recorded (or the monitor is found dead). */
  waitExit(id: string, signal?: AbortSignal): Promise<ExitStatus>;
  /** The recorded exit, or undefined while the container has not exited. */
  readExit(id: string, signal?: AbortSignal): Promise<ExitStatus | undefined>;
  /** Removes the container from the runtime and every file of it in the state directory. Idempotent. */
  delete(id: string, options?: DeleteOptions, signal?: AbortSignal): Promise<void>;
  /** Changes the cgroup limits of a running container (`<runtime> update --resources -`). */
  update(id: string, resources: LinuxResources, signal?: AbortSignal): Promise<void>;
  /** Tells the monitor to reopen the log file (after the kubelet rotated it); resolves once the new file exists. */
  reopenLog(id: string, signal?: AbortSignal): Promise<void>;
  /** Runs a command in the container and collects its output. */
  execSync(id: string, options: ExecSyncOptions, signal?: AbortSignal): Promise<ExecSyncResult>;
  /** Rebuilds the view of every container from the state directory after a daemon restart. */
  recover(signal?: AbortSignal): Promise<RecoverResult>;
}
