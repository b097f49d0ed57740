/** How often a client reads a running operation again in its first seconds. */
export const OPERATION_POLL_FAST_MS = 250;
/** How often a client reads a running operation again after that. */
export const OPERATION_POLL_MS = 1000;
/** Most syncs end within this; reading fast for longer only adds load. */
export const OPERATION_FAST_POLL_WINDOW_MS = 10_000;

/**
 * The wait before reading a running operation again, `elapsedMs` after it was started:
 * fast at first, so a sync the backend saw finish is shown within a quarter second, then
 * slower, so a long reconcile does not cost a request every 250 ms.
 */
export function operationPollDelayMs(elapsedMs: number): number {
  return elapsedMs < OPERATION_FAST_POLL_WINDOW_MS
    ? OPERATION_POLL_FAST_MS
    : OPERATION_POLL_MS;
}
