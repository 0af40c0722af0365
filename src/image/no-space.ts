// A full disk (ENOSPC, or a quota's EDQUOT) anywhere in a pull is resource-exhausted, as the
// kubelet expects of "no space", not an internal error.
import { isBerthError, resourceExhausted } from '../errors/errors.ts';

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

function hasNoSpaceCause(e: unknown): boolean {
  for (let at = e, depth = 0; at !== undefined && at !== null && depth < 8; depth++) {
    if (NO_SPACE.has((at as { code?: unknown }).code as string)) return true;
    at = (at as { cause?: unknown }).cause;
  }
  return false;
}

/** A resource-exhausted `no-space` error in place of `e` when a full disk caused it; else `e` itself. */
export function noSpaceAsResourceExhausted(e: unknown): unknown {
  if (isBerthError(e, 'resource-exhausted') || !hasNoSpaceCause(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return resourceExhausted('no-space', `no space left for the image: ${message}`, { cause: e });
}
