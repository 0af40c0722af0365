// Undo steps registered right after each acquisition; on failure they run in reverse.
export type UndoStep = () => unknown | Promise<unknown>;

export class CleanupStack {
  #steps: { name: string; undo: UndoStep }[] = [];

  push(name: string, undo: UndoStep): void {
    this.#steps.push({ name, undo });
  }

  /** Forget the steps: the operation succeeded and owns what it acquired. */
  release(): void {
    this.#steps = [];
  }

  /** Runs every step in reverse order; a failing step does not stop the others. Returns the failures. */
  async unwind(onError?: (name: string, error: unknown) => void): Promise<unknown[]> {
    const errors: unknown[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.undo();
      } catch (e) {
        errors.push(e);
        onError?.(step.name, e);
      }
    }
    return errors;
  }
}

/** Runs `body` with a fresh stack; unwinds it if `body` throws, then rethrows. */
export async function withCleanup<T>(
  body: (stack: CleanupStack) => Promise<T>,
  onError?: (name: string, error: unknown) => void,
): Promise<T> {
  const stack = new CleanupStack();
  try {
    const result = await body(stack);
    stack.release();
    return result;
  } catch (e) {
    await stack.unwind(onError);
    throw e;
  }
}
