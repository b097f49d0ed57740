import { BenchReport, goals, markdown } from './report';
import { summarize } from './stats';

const sample = (ms: number[]) => summarize(ms);

function report(overrides: Partial<BenchReport> = {}): BenchReport {
  return {
    startedAt: '2026-12-05T00:00:00.000Z',
    machine: { cpus: 2, cpuModel: 'Test CPU', memoryGiB: 24, node: 'v22' },
    status: [],
    sync: [],
    push: [],
    throughput: [],
    memory: [],
    ...overrides,
  };
}

const memory = (clusters: number, objectsPerCluster: number, rss: number) => ({
  clusters,
  objectsPerCluster,
  cachedObjects: clusters * objectsPerCluster,
  backendReadyMs: 1000,
  coldStartMs: 2000,
  baseline: { rssMiB: 300, heapUsedMiB: 100 },
  full: { rssMiB: rss, heapUsedMiB: rss - 200 },
  rssPer100kMiB: 10,
});

describe('goals', () => {
  it('judges the memory goal on the smallest run holding a million objects', () => {
    expect(goals(report({ memory: [memory(50, 2000, 400)] }))).toEqual([]);
    const [goal] = goals(
      report({
        memory: [memory(1000, 2000, 900), memory(500, 2000, 1100)],
      }),
    );
    expect(goal).toMatchObject({
      measured: '1100 MiB',
      met: false,
    });
    expect(goal.name).toContain('1,000,000');
  });

  it('judges push overhead on p99 and throughput on rate, duration and every error', () => {
    const throughput = {
      clusters: 2,
      targetPerSecond: 500,
      seconds: 60,
      sent: 30_000,
      achievedPerSecond: 499.9,
      webhookErrors: 0,
      webhookErrorKinds: {},
      webhook: sample([5, 6, 7]),
      receiverCallsExpected: 60_000,
      receiverCallsMade: 60_000,
      receiverErrors: 0,
    };
    const push = {
      clusters: 2,
      pushes: 3,
      toReceiver: sample([5, 10, 30]),
      toReady: { ...sample([1500]), pushes: 1 },
      pollingExpectedMs: 30_000,
    };
    const judged = (r: BenchReport) => goals(r).map(goal => goal.met);
    expect(judged(report({ push: [push], throughput: [throughput] }))).toEqual([
      false,
      true,
    ]);
    expect(
      judged(
        report({
          push: [{ ...push, toReceiver: sample([5, 10, 20]) }],
          throughput: [{ ...throughput, receiverCallsMade: 59_999 }],
        }),
      ),
    ).toEqual([true, false]);
    expect(
      judged(report({ throughput: [{ ...throughput, seconds: 10 }] })),
    ).toEqual([false]);
    const twice = goals(
      report({ throughput: [{ ...throughput, receiverCallsMade: 60_002 }] }),
    );
    expect(twice.map(goal => [goal.met, goal.measured])).toEqual([
      [
        false,
        '500/s, webhooks failed 0, receivers failed 0, calls missing 0, repeated 2',
      ],
    ]);
  });
});

describe('mixed load goal', () => {
  const mixed = {
    clusters: 2,
    seconds: 60,
    concurrency: 500,
    statusRequests: 90_000,
    statusErrors: 0,
    statusErrorKinds: {},
    status: sample([3, 4, 40]),
    webhooksPerSecond: 200,
    webhooksSent: 12_000,
    webhookErrors: 0,
    webhook: sample([5, 8, 90]),
    receiverCallsExpected: 24_000,
    receiverCallsMade: 24_000,
    receiverErrors: 0,
  };
  const judged = (run: typeof mixed) =>
    goals(report({ mixed: [run] })).map(goal => [goal.met, goal.measured]);

  it('is met only at full load with no error of any kind', () => {
    expect(judged(mixed)).toEqual([
      [true, '0 errors; status p99 40.0 ms, webhook p99 90.0 ms'],
    ]);
    expect(judged({ ...mixed, statusErrors: 3 })[0][0]).toBe(false);
    expect(judged({ ...mixed, receiverCallsMade: 23_999 })[0][0]).toBe(false);
    expect(judged({ ...mixed, receiverCallsMade: 24_001 })[0][0]).toBe(false);
    expect(judged({ ...mixed, concurrency: 100 })[0][0]).toBe(false);
  });

  it('is shown as a table with both p99s', () => {
    const table = markdown(report({ mixed: [mixed] }));
    expect(table).toContain('**Mixed load**');
    expect(table).toContain(
      '| 2 | 500 | 200/s | 60 s | 90000 / 0 | 4.0 ms / 40.0 ms / 40.0 ms |',
    );
  });
});

describe('markdown', () => {
  it('shows only the scenarios that ran, and the goals', () => {
    const table = markdown(report({ memory: [memory(500, 2000, 1100)] }));
    expect(table).toContain('Run 2026-12-05T00:00:00.000Z on 2 × Test CPU');
    expect(table).not.toContain('Entity status');
    expect(table).toContain('| 500 × 2000 | 1,000,000 | 300 → 1100 MiB |');
    expect(table).toContain('**not met**');
  });
});
