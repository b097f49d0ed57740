import { MemoryResult } from './scenarios/memory';
import { MixedLoadResult } from './scenarios/mixed';
import { PushLatencyResult, ThroughputResult } from './scenarios/push';
import { StatusResult } from './scenarios/status';
import {
  OPERATION_FAST_POLL_WINDOW_MS,
  OPERATION_POLL_FAST_MS,
  OPERATION_POLL_MS,
} from '@backstage-gitops/plugin-gitops-common';
import { PEER_POLL_MS, SyncResult } from './scenarios/sync';

export interface BenchReport {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  status: StatusResult[];
  sync: SyncResult[];
  push: PushLatencyResult[];
  throughput: ThroughputResult[];
  /** Absent in reports written before the mixed load scenario. */
  mixed?: MixedLoadResult[];
  memory: MemoryResult[];
}

export interface Goal {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** The issue's goals that this run measured, each met or not. */
export function goals(report: BenchReport): Goal[] {
  return [
    ...statusGoals(report),
    ...pushGoals(report),
    ...mixedGoals(report),
    ...memoryGoals(report),
  ];
}

/** Receiver calls missing or repeated: each is an error of the run. */
function receiverCallErrors(run: {
  receiverCallsExpected: number;
  receiverCallsMade: number;
}) {
  return Math.abs(run.receiverCallsExpected - run.receiverCallsMade);
}

function mixedGoals(report: BenchReport): Goal[] {
  return (report.mixed ?? []).map(run => {
    const errors =
      run.statusErrors +
      run.webhookErrors +
      run.receiverErrors +
      receiverCallErrors(run);
    return {
      name: `${run.concurrency} concurrent status requests + ${run.webhooksPerSecond} webhooks/s for ${run.seconds} s`,
      target: '500 + 200/s, 60 s, 0 errors',
      measured: `${errors} errors; status p99 ${ms(
        run.status.p99,
      )}, webhook p99 ${ms(run.webhook.p99)}`,
      met:
        run.concurrency >= 500 &&
        run.webhooksPerSecond >= 200 &&
        run.seconds >= 60 &&
        errors === 0,
    };
  });
}

function pushGoals(report: BenchReport): Goal[] {
  const result: Goal[] = report.push.map(push => ({
    name: 'push → receiver called, own overhead (p99)',
    target: '≤ 25 ms',
    measured: ms(push.toReceiver.p99),
    met: push.toReceiver.p99 <= 25,
  }));
  for (const run of report.throughput) {
    // A call missing is a push lost; a call beyond one per webhook and cluster is a
    // repeat (a retry after an attempt the backend saw fail): both count, shown apart.
    const missing = Math.max(
      0,
      run.receiverCallsExpected - run.receiverCallsMade,
    );
    const repeated = Math.max(
      0,
      run.receiverCallsMade - run.receiverCallsExpected,
    );
    const errors = run.webhookErrors + run.receiverErrors + missing + repeated;
    result.push({
      name: `webhooks held for ${run.seconds} s with no error`,
      target: '500/s, 0 errors, 60 s',
      measured: `${run.achievedPerSecond.toFixed(0)}/s, ${
        errors
          ? `webhooks failed ${run.webhookErrors}, receivers failed ${run.receiverErrors}, calls missing ${missing}, repeated ${repeated}`
          : '0 errors'
      }`,
      met: run.seconds >= 60 && run.achievedPerSecond >= 495 && errors === 0,
    });
  }
  return result;
}

const MILLION = 1_000_000;

function memoryGoals(report: BenchReport): Goal[] {
  const atMillion = report.memory
    .filter(result => result.cachedObjects >= MILLION)
    .sort((a, b) => a.cachedObjects - b.cachedObjects)[0];
  if (!atMillion) return [];
  return [
    {
      name: `RSS with ${atMillion.cachedObjects.toLocaleString(
        'en-US',
      )} cached objects (${atMillion.clusters} clusters)`,
      target: '≤ 1024 MiB',
      measured: `${atMillion.full.rssMiB.toFixed(0)} MiB`,
      met: atMillion.full.rssMiB <= 1024,
    },
  ];
}

function statusGoals(report: BenchReport): Goal[] {
  const at50 = report.status.find(result => result.clusters === 50);
  if (!at50) return [];
  return [
    {
      name: 'status p95 at 50 clusters',
      target: '≤ 10 ms',
      measured: ms(at50.ours.p95),
      met: at50.ours.p95 <= 10,
    },
    {
      name: 'cluster calls per status request at 50 clusters',
      target: '0',
      measured: String(at50.ours.clusterCallsPerRequest),
      met: at50.ours.clusterCallsPerRequest === 0,
    },
    {
      name: 'faster than the Kubernetes plugin at 50 clusters (p95)',
      target: '≥ 20×',
      measured: `${at50.speedupP95.toFixed(1)}×`,
      met: at50.speedupP95 >= 20,
    },
  ];
}

/** The run as a Markdown table, as the README shows it. */
export function markdown(report: BenchReport): string {
  const lines = [
    `Run ${report.startedAt} on ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}.`,
  ];
  if (report.status.length > 0) {
    lines.push(
      '',
      `**Entity status** (every cluster API call delayed by the latency; ours from the watch caches, the peer is the Kubernetes plugin\u2019s custom resource query for the Flux kinds; each figure the median of ${report.status[0].runs} runs)`,
      '',
      '| clusters | latency | ours p50 / p95 / p99 | ours cluster calls | peer p50 / p95 / p99 | peer cluster calls | peer ÷ ours (p95) |',
      '| --: | --: | --: | --: | --: | --: | --: |',
      ...report.status.map(
        r =>
          `| ${r.clusters} | ${r.latencyMs} ms | ${ms(r.ours.median)} / ${ms(
            r.ours.p95,
          )} / ${ms(r.ours.p99)} | ${r.ours.clusterCallsPerRequest} | ${ms(
            r.peer.median,
          )} / ${ms(r.peer.p95)} / ${ms(r.peer.p99)} | ${
            r.peer.clusterCallsPerRequest
          } | ${r.speedupP95.toFixed(1)}× |`,
      ),
    );
  }
  if (report.sync.length > 0) {
    const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;
    lines.push(
      '',
      `**Sync now until Ready** (one Kustomization; the controller takes the same time on both sides; ours is the reconcile operation, which follows the object through the watch, as its API reports it and as the frontend shows it, reading every ${OPERATION_POLL_FAST_MS} ms for ${
        OPERATION_FAST_POLL_WINDOW_MS / 1000
      } s, then every ${
        OPERATION_POLL_MS / 1000
      } s; the peer merge-patches \`requestedAt\` and reads the object every ${
        PEER_POLL_MS / 1000
      } s, as the Flux plugin)`,
      '',
      '| controller | runs | ours, API p50 / p95 | ours, frontend p50 / p95 | peer p50 / p95 | peer ÷ ours, frontend (p50) |',
      '| --: | --: | --: | --: | --: | --: |',
      ...report.sync.map(
        r =>
          `| ${seconds(r.controllerMs)} | ${r.runs} | ${seconds(
            r.ours.median,
          )} / ${seconds(r.ours.p95)} | ${seconds(r.oursUi.median)} / ${seconds(
            r.oursUi.p95,
          )} | ${seconds(r.peer.median)} / ${seconds(
            r.peer.p95,
          )} | ${r.speedupMedian.toFixed(1)}× |`,
      ),
    );
  }
  if (report.push.length > 0) {
    const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;
    lines.push(
      '',
      '**Push → receiver → Ready** (a GitLab push webhook to the backend until the last cluster\u2019s Flux Receiver is called, one at a time: our own overhead; then real pushes until every cluster applied the commit and is Ready, against interval polling)',
      '',
      '| clusters | webhook → last receiver p50 / p95 / p99 | push → Ready p50 / p95 (pushes) | polling at the default 1m interval (expected, interval/2) | polling ÷ ours (p50) |',
      '| --: | --: | --: | --: | --: |',
      ...report.push.map(
        r =>
          `| ${r.clusters} | ${ms(r.toReceiver.median)} / ${ms(
            r.toReceiver.p95,
          )} / ${ms(r.toReceiver.p99)} | ${seconds(
            r.toReady.median,
          )} / ${seconds(r.toReady.p95)} (${r.toReady.pushes}) | ${seconds(
            r.pollingExpectedMs,
          )} | ${(r.pollingExpectedMs / r.toReady.median).toFixed(1)}× |`,
      ),
    );
  }
  if (report.throughput.length > 0) {
    lines.push(
      '',
      '**Webhook throughput** (GitLab push webhooks sent at a fixed rate whatever the answers; every one must be accepted and call each cluster\u2019s receiver)',
      '',
      '| clusters | target | held for | achieved | webhook errors | webhook answer p50 / p99 | receiver calls made / expected | receiver errors |',
      '| --: | --: | --: | --: | --: | --: | --: | --: |',
      ...report.throughput.map(
        r =>
          `| ${r.clusters} | ${r.targetPerSecond}/s | ${
            r.seconds
          } s | ${r.achievedPerSecond.toFixed(0)}/s | ${r.webhookErrors} | ${ms(
            r.webhook.median,
          )} / ${ms(r.webhook.p99)} | ${r.receiverCallsMade} / ${
            r.receiverCallsExpected
          } | ${r.receiverErrors} |`,
      ),
    );
  }
  if ((report.mixed ?? []).length > 0) {
    lines.push(
      '',
      '**Mixed load** (clients reading the entity status, each sending its next request when answered, while GitLab push webhooks arrive at a fixed rate; every webhook must be accepted and call each cluster\u2019s receiver)',
      '',
      '| clusters | status clients | webhooks | held for | status requests / errors | status p50 / p95 / p99 | webhooks sent / errors | webhook p50 / p99 | receiver calls made / expected | receiver errors |',
      '| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
      ...report.mixed!.map(
        r =>
          `| ${r.clusters} | ${r.concurrency} | ${r.webhooksPerSecond}/s | ${
            r.seconds
          } s | ${r.statusRequests} / ${r.statusErrors} | ${ms(
            r.status.median,
          )} / ${ms(r.status.p95)} / ${ms(r.status.p99)} | ${
            r.webhooksSent
          } / ${r.webhookErrors} | ${ms(r.webhook.median)} / ${ms(
            r.webhook.p99,
          )} | ${r.receiverCallsMade} / ${r.receiverCallsExpected} | ${
            r.receiverErrors
          } |`,
      ),
    );
  }
  if (report.memory.length > 0) {
    lines.push(
      '',
      '**Memory and cold start** (a backend alone in its own process, watching every cluster; RSS and heap after a full GC; the baseline is the same backend and clusters with no Flux objects; cold start is process start to every object cached)',
      '',
      '| clusters × objects | cached objects | RSS baseline → full | heap used baseline → full | RSS per 100,000 objects | cold start (backend serving / caches full) |',
      '| --: | --: | --: | --: | --: | --: |',
      ...report.memory.map(
        r =>
          `| ${r.clusters} × ${
            r.objectsPerCluster
          } | ${r.cachedObjects.toLocaleString(
            'en-US',
          )} | ${r.baseline.rssMiB.toFixed(0)} → ${r.full.rssMiB.toFixed(
            0,
          )} MiB | ${r.baseline.heapUsedMiB.toFixed(
            0,
          )} → ${r.full.heapUsedMiB.toFixed(0)} MiB | ${r.rssPer100kMiB.toFixed(
            0,
          )} MiB | ${(r.backendReadyMs / 1000).toFixed(1)} s / ${(
            r.coldStartMs / 1000
          ).toFixed(1)} s |`,
      ),
    );
  }
  const measuredGoals = goals(report);
  if (measuredGoals.length > 0) {
    lines.push(
      '',
      '| goal | target | measured | |',
      '| --- | --: | --: | --- |',
      ...measuredGoals.map(
        goal =>
          `| ${goal.name} | ${goal.target} | ${goal.measured} | ${
            goal.met ? 'met' : '**not met**'
          } |`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
