/**
 * Wall-clock timestamps in the formats Go controllers write. Nanosecond values come from a
 * monotonic clock anchored on the wall clock, so two requests in the same millisecond still
 * get distinct `requestedAt` values (controllers compare them for equality).
 */
const anchorEpochNanos = BigInt(Date.now()) * 1_000_000n;
const anchorMonotonic = process.hrtime.bigint();
let lastIssuedNanos = 0n;

/** Nanoseconds since the Unix epoch, strictly increasing across calls. */
export function unixNanoNow(): bigint {
  let nanos = anchorEpochNanos + (process.hrtime.bigint() - anchorMonotonic);
  if (nanos <= lastIssuedNanos) {
    nanos = lastIssuedNanos + 1n;
  }
  lastIssuedNanos = nanos;
  return nanos;
}

/** Go's `time.Now().Format(time.RFC3339Nano)` in UTC: trailing zeros of the fraction dropped. */
export function rfc3339NanoNow(): string {
  const nanos = unixNanoNow();
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n)
    .toString()
    .padStart(9, '0')
    .replace(/0+$/, '');
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return fraction ? `${base}.${fraction}Z` : `${base}Z`;
}
