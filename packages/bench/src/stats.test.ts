import { medianOfRuns, summarize, timeEach } from './stats';

describe('summarize', () => {
  it('takes the median and nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(values)).toEqual({
      count: 100,
      median: 50.5,
      p95: 95,
      p99: 99,
      max: 100,
    });
    expect(summarize([3, 1, 2])).toMatchObject({ median: 2, p95: 3, p99: 3 });
  });

  it('refuses an empty sample', () => {
    expect(() => summarize([])).toThrow(/No samples/);
  });
});

describe('timeEach', () => {
  it('measures each run', async () => {
    const durations = await timeEach(
      3,
      () => new Promise(resolve => setTimeout(resolve, 20)),
    );
    expect(durations).toHaveLength(3);
    for (const duration of durations)
      expect(duration).toBeGreaterThanOrEqual(15);
  });
});

describe('medianOfRuns', () => {
  it('takes each statistic\u2019s median over the runs, and the overall max', () => {
    const run = (median: number, p95: number, max: number) => ({
      count: 10,
      median,
      p95,
      p99: p95 + 1,
      max,
    });
    expect(medianOfRuns([run(1, 5, 9), run(2, 50, 60), run(3, 6, 7)])).toEqual({
      count: 30,
      median: 2,
      p95: 6,
      p99: 7,
      max: 60,
    });
  });
});
