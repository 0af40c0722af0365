// ExecSync for the dockershim: a Docker exec without a terminal, its output collected up to the
// bound berth's own ExecSync keeps (the reply must fit in the CRI server's 16 MiB message), a cut
// stream marked as such; on timeout or abort the process and what it started are killed, and a
// timeout is DEADLINE_EXCEEDED (the kubelet takes that code as a probe timeout).

import type Docker from 'dockerode';
import { deadlineExceeded, invalidArgument, toBerthError } from '../errors/errors.ts';
import { BoundedBuffer } from '../runtime/oci/run-command.ts';
import type { DockerEngine } from './docker-engine.ts';
import { startDockerExec } from './docker-exec-process.ts';

/** As src/services/container-exec-sync.ts: the gRPC limit less room for framing, halved. */
export const DOCKER_EXEC_SYNC_MAX_OUTPUT = (16 * 1024 * 1024 - 64 * 1024) / 2;

export function dockerTruncationMarker(stream: 'stdout' | 'stderr'): string {
  return `\n[berth: ${stream} truncated after ${DOCKER_EXEC_SYNC_MAX_OUTPUT} bytes]\n`;
}

export interface DockerExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** `container`: its ID, or what its caller just inspected of it (not looked up again). */
export async function dockerExecSync(
  engine: DockerEngine,
  container: string | Docker.ContainerInspectInfo,
  cmd: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<DockerExecSyncResult> {
  const containerId = typeof container === 'string' ? container : container.Id;
  const inspected = typeof container === 'string' ? undefined : container;
  if (cmd.length === 0) throw invalidArgument('bad-command', 'ExecSync needs a command');
  if (signal?.aborted) throw toBerthError(signal.reason);
  const proc = await startDockerExec(engine, containerId, { cmd, stdin: false, stdout: true, stderr: true, tty: false, inspected });
  const stdout = new BoundedBuffer(DOCKER_EXEC_SYNC_MAX_OUTPUT);
  const stderr = new BoundedBuffer(DOCKER_EXEC_SYNC_MAX_OUTPUT);
  proc.stdout?.on('data', (d: Buffer) => stdout.push(d));
  proc.stderr?.on('data', (d: Buffer) => stderr.push(d));

  let interrupted: 'timeout' | 'abort' | undefined;
  const interrupt = (why: 'timeout' | 'abort'): void => {
    interrupted ??= why;
    void proc.kill();
  };
  const timer = timeoutMs > 0 ? setTimeout(() => interrupt('timeout'), timeoutMs) : undefined;
  const onAbort = (): void => interrupt('abort');
  signal?.addEventListener('abort', onAbort, { once: true });
  let exitCode: number;
  try {
    exitCode = await proc.done;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    await proc.kill();
  }
  if (interrupted === 'abort') throw toBerthError(signal!.reason);
  if (interrupted === 'timeout') {
    throw deadlineExceeded('exec-timeout', `command ${JSON.stringify(cmd)} timed out after ${timeoutMs} ms`, {
      fields: { timeoutMs },
    });
  }
  const marked = (b: BoundedBuffer, stream: 'stdout' | 'stderr'): Buffer =>
    b.truncated ? Buffer.concat([b.toBuffer(), Buffer.from(dockerTruncationMarker(stream))]) : b.toBuffer();
  return { stdout: marked(stdout, 'stdout'), stderr: marked(stderr, 'stderr'), exitCode };
}
