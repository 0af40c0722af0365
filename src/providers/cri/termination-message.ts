// Termination messages as the kubelet handles them (kuberuntime_container.go): before each start an
// empty, world-writable file `<podDir>/containers/<name>/<random id>` is mounted at the
// container's terminationMessagePath; once the container has exited, its status message is what
// the file holds (its last 4 KiB), found again through the mount the runtime reports for that path
// — so it survives a restart of the node. With FallbackToLogsOnError, a failed container that left
// the file empty gets the tail of its log instead. The status keeps at most 12 KiB of messages per
// pod, shared evenly among its containers (the status manager's normalizeStatus).
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Container, ContainerState, Pod, PodStatus } from '../../agent/k8s-types.ts';
import { podUid } from '../../agent/k8s-types.ts';
import { readContainerLog } from './container-logs.ts';
import { TERMINATION_MESSAGE_PATH_ANNOTATION, TERMINATION_MESSAGE_POLICY_ANNOTATION } from './kubelet-labels.ts';
import type { CriMount } from './volumes/container-mounts.ts';
import { podDir } from './volumes/volume-paths.ts';

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** What one container's message file may contribute (the file's last bytes). */
export const MAX_CONTAINER_MESSAGE_BYTES = 4 * 1024;
/** The log tail taken instead: at most this many lines, of which at most the last 2 KiB. */
export const MAX_FALLBACK_LOG_LINES = 80;
export const MAX_FALLBACK_LOG_BYTES = 2 * 1024;
/** All of a pod's messages together. */
export const MAX_POD_MESSAGE_BYTES = 12 * 1024;

export function podContainerDir(rootDir: string, uid: string, containerName: string): string {
  return path.join(podDir(rootDir, uid), 'containers', containerName);
}

/** Creates a fresh empty message file for this start of the container and returns its mount. */
export async function terminationMessageMount(rootDir: string, pod: Pod, container: Container): Promise<CriMount> {
  const dir = podContainerDir(rootDir, podUid(pod), container.name);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const file = path.join(dir, randomBytes(4).toString('hex'));
  await writeFile(file, '', { flag: 'wx' });
  // The container's user may be anyone; the umask must not narrow this.
  await chmod(file, 0o666);
  return { containerPath: container.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH, hostPath: file, readonly: false };
}

/** The last `max` bytes of a file. */
export async function readLastBytes(file: string, max: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, max);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The last lines of a CRI-format log as plain text, cut to the last 2 KiB. */
export async function fallbackLogTail(logPath: string): Promise<string> {
  try {
    const chunks: Buffer[] = [];
    const lines = readContainerLog(logPath, { tailLines: MAX_FALLBACK_LOG_LINES }, async () => false, new AbortController().signal);
    for await (const chunk of lines) chunks.push(Buffer.from(chunk));
    const bytes = Buffer.concat(chunks);
    return bytes.subarray(Math.max(0, bytes.length - MAX_FALLBACK_LOG_BYTES)).toString('utf8');
  } catch (e) {
    return `Error on reading termination message from logs: ${(e as Error).message}`;
  }
}

/** The parts of a CRI ContainerStatus the message comes from. */
export interface ExitedContainerStatus {
  exitCode: number;
  reason: string;
  message: string;
  logPath: string;
  annotations: Record<string, string>;
  mounts: readonly { containerPath: string; hostPath: string }[];
}

/** The file's content, or whether the log should be read instead (getTerminationMessage). */
async function messageFile(status: ExitedContainerStatus, fallbackToLogs: boolean): Promise<{ message: string; checkLogs: boolean }> {
  const containerPath = status.annotations[TERMINATION_MESSAGE_PATH_ANNOTATION] ?? '';
  const mount = containerPath === '' ? undefined : status.mounts.find((m) => m.containerPath === containerPath);
  if (mount === undefined) return { message: '', checkLogs: fallbackToLogs };
  try {
    const data = await readLastBytes(mount.hostPath, MAX_CONTAINER_MESSAGE_BYTES);
    return { message: data.toString('utf8'), checkLogs: fallbackToLogs && data.length === 0 };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { message: '', checkLogs: fallbackToLogs };
    return { message: `Error on reading termination log ${mount.hostPath}: ${(e as Error).message}`, checkLogs: false };
  }
}

/** An exited container's status message: the runtime's, then `: ` and the termination message when there is one. */
export async function exitedContainerMessage(status: ExitedContainerStatus): Promise<string> {
  // A container that could not even start has no log to fall back to.
  const fallbackToLogs =
    status.annotations[TERMINATION_MESSAGE_POLICY_ANNOTATION] === 'FallbackToLogsOnError' &&
    status.exitCode !== 0 &&
    status.reason !== 'ContainerCannotRun';
  let { message, checkLogs } = await messageFile(status, fallbackToLogs);
  if (checkLogs) message = await fallbackLogTail(status.logPath);
  if (message === '') return status.message;
  return status.message === '' ? message : `${status.message}: ${message}`;
}

/** The first `max` bytes of `text`, not splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Cuts every terminated message of the status to the pod's share per container. */
export function limitTerminationMessages(pod: Pod, status: PodStatus): PodStatus {
  const containers = pod.spec.containers.length + (pod.spec.initContainers ?? []).length;
  const perContainer = containers > 0 ? Math.floor(MAX_POD_MESSAGE_BYTES / containers) : MAX_POD_MESSAGE_BYTES;
  const cut = (state: ContainerState | undefined) => {
    const terminated = state?.terminated;
    if (terminated?.message !== undefined) terminated.message = truncateUtf8(terminated.message, perContainer);
  };
  for (const s of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    cut(s.state);
    cut(s.lastState);
  }
  return status;
}
