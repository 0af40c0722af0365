// ExecSync: a command in a running container, with a timeout and bounded output.
import { deadlineExceeded, failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { ExecSyncResult } from '../runtime/oci/oci-runtime.ts';
import type { PodDeps } from './pod-deps.ts';
import { runtimeFor } from './pod-deps.ts';

/** CRI-O's bound on ExecSync output, per stream. */
export const EXEC_SYNC_MAX_OUTPUT = 16 * 1024 * 1024;

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
  return result;
}
