// The `code` of a Node system error (ENOENT, EBUSY, …), if `e` is one.
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}
