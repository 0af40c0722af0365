// Runs a body again and again with a pause between runs, until the signal aborts.
import { setTimeout as sleep } from 'node:timers/promises';

/** Awaits `body`, then waits `intervalMs`, and so on; an abort ends the wait at once. Errors from `body` go to `onError`. */
export async function repeatEvery(
  intervalMs: number,
  signal: AbortSignal,
  body: () => Promise<void>,
  onError: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await body();
    } catch (e) {
      if (!signal.aborted) onError(e);
    }
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return; // aborted
    }
  }
}
