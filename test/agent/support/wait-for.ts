// Polls until a condition holds, for integration tests that watch asynchronous state.
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `probe` every `intervalMs` until it returns something other than undefined; fails after `timeoutMs` with `describe()`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = options.describe?.() ?? '';
      throw new Error(
        `timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}${detail ? `\n${detail}` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? 200);
  }
}
