// ExecSync: a command in a running container, with a timeout and bounded output.
import { deadlineExceeded, failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { ExecSyncResult } from '../runtime/oci/oci-runtime.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

/** The CRI server's message limit (src/cri/server.ts): the reply must fit in it. */
const GRPC_MESSAGE_LIMIT = 16 * 1024 * 1024;
/** Room for the reply's framing and the truncation markers. */
const REPLY_OVERHEAD = 64 * 1024;
/** Bytes kept of stdout and of stderr each: together with the markers below the message limit. */
export const EXEC_SYNC_MAX_OUTPUT = (GRPC_MESSAGE_LIMIT - REPLY_OVERHEAD) / 2;

/** Appended to a stream that was cut, so that the caller knows it is not the whole output. */
export function truncationMarker(stream: 'stdout' | 'stderr'): string {
  return `\n[berth: ${stream} truncated after ${EXEC_SYNC_MAX_OUTPUT} bytes]\n`;
}

export async function execSync(
  deps: PodDeps,
  idOrPrefix: string,
  cmd: string[],
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ExecSyncResult> {
  if (cmd.length === 0) throw invalidArgument('bad-command', 'ExecSync needs a command');
  const c = deps.store.findContainer(idOrPrefix);
  if (c.state !== 'running') throw failedPrecondition('container-not-running', `container ${c.id} is not running`);
  const result = await runtimeFor(deps, c.runtimeHandler).execSync(
    c.id,
    { cmd, timeoutMs: Math.max(0, timeoutSeconds) * 1000, maxOutputBytes: EXEC_SYNC_MAX_OUTPUT },
    signal,
  );
  if (result.timedOut) {
    throw deadlineExceeded('exec-timeout', `command ${JSON.stringify(cmd)} timed out after ${timeoutSeconds}s`, {
      fields: { timeoutSeconds },
    });
  }
  const marked = (bytes: Buffer, stream: 'stdout' | 'stderr'): Buffer =>
    result.truncated[stream] ? Buffer.concat([bytes, Buffer.from(truncationMarker(stream))]) : bytes;
  return { ...result, stdout: marked(result.stdout, 'stdout'), stderr: marked(result.stderr, 'stderr') };
}
