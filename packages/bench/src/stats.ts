/** Order statistics of a sample, in the unit it was taken in. */
export interface Summary {
  count: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
}

/** The nearest-rank percentile `p` (0–100) of sorted values. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) throw new Error('No samples to summarize');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return {
    count: sorted.length,
    median:
      sorted.length % 2
        ? sorted[Math.floor(middle)]
        : (sorted[middle - 1] + sorted[middle]) / 2,
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/** Runs `fn` `count` times one after the other and returns each duration in ms. */
export async function timeEach(
  count: number,
  fn: () => Promise<void>,
): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await fn();
    durations.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return durations;
}

/** Each statistic's median over repeated runs (a run's outliers do not decide). */
export function medianOfRuns(runs: Summary[]): Summary {
  if (runs.length === 0) throw new Error('No runs to combine');
  const median = (pick: (summary: Summary) => number) =>
    summarize(runs.map(pick)).median;
  return {
    count: runs.reduce((sum, run) => sum + run.count, 0),
    median: median(run => run.median),
    p95: median(run => run.p95),
    p99: median(run => run.p99),
    max: Math.max(...runs.map(run => run.max)),
  };
}
