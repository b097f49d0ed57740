/**
 * Polls `probe` until it returns a truthy value (returned) or `timeoutMs` passes; a
 * probe that throws counts as not yet, and its last error is in the timeout message.
 */
export async function eventually<T>(
  what: string,
  probe: () =>
    | T
    | undefined
    | null
    | false
    | Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out waiting for ${what}${last ? `: ${last}` : ''}`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}
