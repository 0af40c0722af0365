// The oracle the targets share: the code under test may refuse an input only with a typed error.
import { isBerthError } from '../../src/errors/errors.ts';

/** Rethrows anything that is not one of the typed refusals the caller names (BerthError always is). */
export function acceptTypedRefusal(e: unknown, ...alsoTyped: (abstract new (...args: never[]) => Error)[]): void {
  if (isBerthError(e)) return;
  if (alsoTyped.some((t) => e instanceof t)) return;
  throw e;
}

/** Runs `body`; a typed refusal is an outcome, anything else a defect. */
export async function refusalOrResult<T>(
  body: () => T | Promise<T>,
  ...alsoTyped: (abstract new (
    ...args: never[]
  ) => Error)[]
): Promise<T | undefined> {
  try {
    return await body();
  } catch (e) {
    acceptTypedRefusal(e, ...alsoTyped);
    return undefined;
  }
}

/** A broken invariant: the input parsed, but what came out is wrong. */
export function invariant(ok: boolean, message: string): void {
  if (!ok) throw new Error(`invariant broken: ${message}`);
}

export const words = (...w: string[]): Buffer[] => w.map((s) => Buffer.from(s, 'latin1'));
