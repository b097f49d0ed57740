/**
 * Go `time.Duration` text, as Flux specs (`interval: 1m30s`) and messages
 * ("next run in 10m0s") use it.
 */

const UNIT_NANOSECONDS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const DURATION = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Parses a Go duration (`1h2m`, `1.5s`, `300ms`, `0`) into milliseconds; throws on invalid text. */
export function parseGoDuration(text: string): number {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  const match = DURATION.exec(text);
  if (!match) {
    throw new Error(`time: invalid duration "${text}"`);
  }
  let nanoseconds = 0;
  for (const [, value, unit] of text.matchAll(PART)) {
    nanoseconds += Number(value) * UNIT_NANOSECONDS[unit];
  }
  const milliseconds = nanoseconds / 1e6;
  return match[1] === '-' ? -milliseconds : milliseconds;
}

/** Like parseGoDuration, but falls back when the text is absent or invalid. */
export function durationOr(text: unknown, fallbackMs: number): number {
  if (typeof text !== 'string' || text === '') return fallbackMs;
  try {
    return parseGoDuration(text);
  } catch {
    return fallbackMs;
  }
}

function trimFraction(value: string): string {
  return value.includes('.')
    ? value.replace(/0+$/, '').replace(/\.$/, '')
    : value;
}

/** Formats milliseconds the way Go's `Duration.String()` does: `10m0s`, `1.5s`, `2.25ms`. */
export function formatGoDuration(milliseconds: number): string {
  const sign = milliseconds < 0 ? '-' : '';
  const nanoseconds = Math.round(Math.abs(milliseconds) * 1e6);
  if (nanoseconds === 0) return '0s';
  if (nanoseconds < 1e3) return `${sign}${nanoseconds}ns`;
  if (nanoseconds < 1e6)
    return `${sign}${trimFraction((nanoseconds / 1e3).toFixed(3))}µs`;
  if (nanoseconds < 1e9)
    return `${sign}${trimFraction((nanoseconds / 1e6).toFixed(6))}ms`;
  const hours = Math.floor(nanoseconds / 3600e9);
  const minutes = Math.floor((nanoseconds % 3600e9) / 60e9);
  const seconds = trimFraction(((nanoseconds % 60e9) / 1e9).toFixed(9));
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}
