import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { startWorld } from '@backstage-gitops/sandbox';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchReport, goals, markdown } from './report';
import { memoryScenario } from './scenarios/memory';
import { mixedLoadScenario } from './scenarios/mixed';
import { pushScenarios } from './scenarios/push';
import { statusScenario } from './scenarios/status';
import { syncScenario } from './scenarios/sync';

const USAGE = `gitops-bench [--scales 1,10,50] [--requests 200] [--runs 5] [--latency 20]
             [--controller-ms 1000] [--sync-runs 10] [--pushes 200] [--ready-pushes 5]
             [--rate 500] [--rate-seconds 60]
             [--mixed-clients 500] [--mixed-rate 200] [--mixed-seconds 60]
             [--memory 50x2000,500x2000] [--scenarios status,sync,push,mixed,memory]
             [--out DIR] [--smoke]

Starts the sandbox world with as many clusters as the largest scale, runs every
scenario (each figure the median over the runs), prints a Markdown table and
writes the JSON to DIR (bench/results).
--controller-ms: how long every Flux reconciliation takes in the sync scenario.
--pushes: webhooks timed one at a time to the receivers; --ready-pushes: real pushes timed to Ready.
--rate, --rate-seconds: webhooks per second, and for how long, in the throughput scenario.
--mixed-clients, --mixed-rate, --mixed-seconds: concurrent status clients, webhooks per
  second, and for how long, in the mixed load scenario.
--memory: clusters x Flux objects per cluster for the memory and cold start scenario.
--scenarios: which scenarios to run (default all).
--smoke: small scales and few requests, to check the bench runs (CI).`;

function positiveInts(value: string, what: string, max: number): number[] {
  const numbers = value.split(',').map(part => Number(part.trim()));
  if (numbers.some(n => !Number.isInteger(n) || n < 1 || n > max)) {
    throw new Error(
      `${what} must be whole numbers from 1 to ${max}, got "${value}"`,
    );
  }
  return numbers;
}

const SCENARIOS = ['status', 'sync', 'push', 'mixed', 'memory'] as const;

function scenarioList(value: string): Set<string> {
  const chosen = value.split(',').map(part => part.trim());
  const unknown = chosen.filter(
    name => !(SCENARIOS as readonly string[]).includes(name),
  );
  if (unknown.length > 0 || chosen.length === 0) {
    throw new Error(
      `--scenarios takes some of ${SCENARIOS.join(', ')}, got "${value}"`,
    );
  }
  return new Set(chosen);
}

function memoryScales(value: string) {
  return value.split(',').map(part => {
    const match = /^\s*(\d+)x(\d+)\s*$/.exec(part);
    const clusters = Number(match?.[1]);
    const objectsPerCluster = Number(match?.[2]);
    if (
      !match ||
      clusters < 1 ||
      clusters > 1000 ||
      objectsPerCluster < 1 ||
      objectsPerCluster > 10_000
    ) {
      throw new Error(
        `--memory takes CLUSTERSxOBJECTS pairs (1-1000 clusters, 1-10000 objects), got "${part}"`,
      );
    }
    return { clusters, objectsPerCluster };
  });
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scales: { type: 'string', default: '1,10,50' },
      requests: { type: 'string', default: '200' },
      runs: { type: 'string', default: '5' },
      latency: { type: 'string', default: '20' },
      memory: { type: 'string', default: '50x2000,500x2000' },
      'controller-ms': { type: 'string', default: '1000' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'sync-runs': { type: 'string', default: '10' },
      pushes: { type: 'string', default: '200' },
      'ready-pushes': { type: 'string', default: '5' },
      rate: { type: 'string', default: '500' },
      'rate-seconds': { type: 'string', default: '60' },
      'mixed-clients': { type: 'string', default: '500' },
      'mixed-rate': { type: 'string', default: '200' },
      'mixed-seconds': { type: 'string', default: '60' },
      out: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scales = values.smoke
    ? [2]
    : positiveInts(values.scales!, '--scales', 500);
  const [requests] = values.smoke
    ? [20]
    : positiveInts(values.requests!, '--requests', 100_000);
  const [latencyMs] = positiveInts(values.latency!, '--latency', 10_000);
  const [runs] = values.smoke ? [1] : positiveInts(values.runs!, '--runs', 100);
  const [controllerMs] = positiveInts(
    values['controller-ms']!,
    '--controller-ms',
    60_000,
  );
  const [syncRuns] = values.smoke
    ? [1]
    : positiveInts(values['sync-runs']!, '--sync-runs', 100);
  const [pushes, readyPushes, rate, rateSeconds] = values.smoke
    ? [10, 1, 20, 2]
    : [
        positiveInts(values.pushes!, '--pushes', 100_000)[0],
        positiveInts(values['ready-pushes']!, '--ready-pushes', 1000)[0],
        positiveInts(values.rate!, '--rate', 100_000)[0],
        positiveInts(values['rate-seconds']!, '--rate-seconds', 3600)[0],
      ];
  const [mixedClients, mixedRate, mixedSeconds] = values.smoke
    ? [20, 10, 2]
    : [
        positiveInts(values['mixed-clients']!, '--mixed-clients', 10_000)[0],
        positiveInts(values['mixed-rate']!, '--mixed-rate', 100_000)[0],
        positiveInts(values['mixed-seconds']!, '--mixed-seconds', 3600)[0],
      ];
  const memory = memoryScales(values.smoke ? '2x100' : values.memory!);
  const outDir = resolve(
    values.out ??
      resolvePackagePath(
        '@backstage-gitops/bench',
        '..',
        '..',
        'bench',
        'results',
      ),
  );

  const only = scenarioList(values.scenarios!);
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    status: [],
    sync: [],
    push: [],
    throughput: [],
    mixed: [],
    memory: [],
  };

  if (
    only.has('status') ||
    only.has('sync') ||
    only.has('push') ||
    only.has('mixed')
  ) {
    // Two clusters at least: pushes go to two.
    const largest = Math.max(only.has('status') ? Math.max(...scales) : 0, 2);
    const names = Array.from(
      { length: largest },
      (_, i) => `c${String(i + 1).padStart(3, '0')}`,
    );
    const dataDir = await mkdtemp(join(tmpdir(), 'gitops-bench-'));
    log(`==> Starting the sandbox world with ${largest} cluster(s)`);
    const world = await startWorld({
      dataDir,
      clusters: names,
      // The sources need not poll during the measurements.
      sourceInterval: '1h',
    });
    try {
      for (const scale of only.has('status') ? scales : []) {
        log(
          `==> Entity status on ${scale} cluster(s), ${runs} run(s) of ${requests} requests each`,
        );
        report.status.push(
          await statusScenario(world, {
            clusters: names.slice(0, scale),
            latencyMs,
            requests,
            runs,
          }),
        );
      }
      if (only.has('sync')) {
        log(
          `==> Sync now until Ready: ${syncRuns} run(s), the controller taking ${controllerMs} ms`,
        );
        report.sync.push(
          await syncScenario(world, {
            cluster: names[0],
            controllerMs,
            runs: syncRuns,
          }),
        );
      }
      if (only.has('push')) {
        const pushClusters = names.slice(0, 2);
        log(
          `==> Push to receivers (${pushes} webhooks) and to Ready (${readyPushes} pushes) on ${pushClusters.length} cluster(s)`,
        );
        const pushed = await pushScenarios(world, {
          clusters: pushClusters,
          pushes,
          readyPushes,
          throughput: { perSecond: rate, seconds: rateSeconds },
          log,
        });
        report.push.push(pushed.latency);
        report.throughput.push(pushed.throughput);
      }
      if (only.has('mixed')) {
        const mixedClusters = names.slice(0, 2);
        log(
          `==> Mixed load: ${mixedClients} status clients and ${mixedRate} webhooks/s for ${mixedSeconds} s on ${mixedClusters.length} cluster(s)`,
        );
        report.mixed!.push(
          await mixedLoadScenario(world, {
            clusters: mixedClusters,
            concurrency: mixedClients,
            perSecond: mixedRate,
            seconds: mixedSeconds,
          }),
        );
      }
    } finally {
      await world.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  for (const scale of only.has('memory') ? memory : []) {
    log(
      `==> Memory and cold start: ${scale.clusters} cluster(s) × ${scale.objectsPerCluster} Flux objects`,
    );
    report.memory.push(await memoryScenario(scale));
  }
  log(`(free memory at the end: ${Math.round(freemem() / 2 ** 20)} MiB)`);

  const table = markdown(report);
  process.stdout.write(table);
  await mkdir(outDir, { recursive: true });
  const file = join(
    outDir,
    `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    file,
    `${JSON.stringify({ ...report, goals: goals(report) }, null, 2)}\n`,
  );
  log(`==> Results: ${file}`);
  return 0;
}
