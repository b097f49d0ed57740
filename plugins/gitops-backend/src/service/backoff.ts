/**
 * The delay before retry `attempt` (from 0): `initialMs` doubled each time, at most
 * `maxMs`, half of it random, so clients that failed together do not retry together.
 */
export function jitteredBackoff(
  attempt: number,
  options: { initialMs: number; maxMs?: number },
): number {
  const delay = Math.min(
    options.maxMs ?? Infinity,
    options.initialMs * 2 ** Math.min(attempt, 16),
  );
  return delay / 2 + Math.random() * (delay / 2);
}
