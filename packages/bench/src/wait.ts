/** Polling helpers the scenarios share. */

export const sleep = (ms: number) =>
  new Promise(resolve => setTimeout(resolve, ms));

/** Waits for `check` to hold, reading every `everyMs`; throws naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; everyMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${options.timeoutMs} ms: ${what}`);
    }
    await sleep(options.everyMs ?? 100);
  }
}
