import { randomUUID } from 'node:crypto';
import { SandboxCluster, SandboxWorld } from '@backstage-gitops/sandbox';
import { BenchBackend, startBenchBackend } from '../backend';
import { sendAtRateInWorker } from '../load/worker';
import { summarize, Summary } from '../stats';
import {
  ensureBenchKustomization,
  benchKustomizationStatus,
} from './benchKustomization';
import { until } from '../wait';

/** The interval `flux bootstrap` and most examples give a GitRepository. */
export const FLUX_DEFAULT_INTERVAL_S = 60;

export interface PushLatencyResult {
  clusters: number;
  pushes: number;
  /** Webhook sent to the backend until the last of the push's receivers was called. */
  toReceiver: Summary;
  /** Real pushes: the commit until every cluster applied it and is Ready. */
  toReady: Summary & { pushes: number };
  /** What polling gives instead: half the default interval, on average. */
  pollingExpectedMs: number;
}

export interface ThroughputResult {
  clusters: number;
  targetPerSecond: number;
  seconds: number;
  sent: number;
  achievedPerSecond: number;
  /** Webhooks not answered 2xx (or not answered at all). */
  webhookErrors: number;
  /** By answer status or failure. */
  webhookErrorKinds: Record<string, number>;
  /** The webhook's answer time. */
  webhook: Summary;
  receiverCallsExpected: number;
  receiverCallsMade: number;
  /** Receiver calls answered other than 200. */
  receiverErrors: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

/** A GitLab push delivery to replay, as the sandbox GitLab sent it to the backend. */
export interface PushTemplate {
  payload: unknown;
  event: string;
}

export function answered200(cluster: SandboxCluster): number {
  return cluster.notification.handler.answered.get(200) ?? 0;
}

export function answeredOther(cluster: SandboxCluster): number {
  let other = 0;
  for (const [status, count] of cluster.notification.handler.answered) {
    if (status !== 200) other += count;
  }
  return other;
}

/** Suspends or resumes the demo's GitRepository, as `flux suspend source git` would. */
export function setSourceSuspended(cluster: SandboxCluster, suspend: boolean) {
  cluster.api.store.mergePatch(
    { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository' },
    'flux-system',
    'team-delivery',
    { spec: { suspend } },
  );
}

/** The backend's GitLab webhook ingress, as GitLab calls it. */
function sendPush(
  world: SandboxWorld,
  backend: BenchBackend,
  template: PushTemplate,
): Promise<Response> {
  return fetch(`${backend.url}/api/events/http/gitlab`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': template.event,
      'X-Gitlab-Event-UUID': randomUUID(),
      'X-Gitlab-Token': world.backstageWebhookSecret,
    },
    body: JSON.stringify(template.payload),
  });
}

/** GitLab push webhooks replayed at a fixed rate, from a worker thread (open loop). */
export function sendWebhooksAtRate(
  world: SandboxWorld,
  backend: BenchBackend,
  template: PushTemplate,
  options: { perSecond: number; seconds: number },
) {
  return sendAtRateInWorker({
    url: `${backend.url}/api/events/http/gitlab`,
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': template.event,
      'X-Gitlab-Token': world.backstageWebhookSecret,
    },
    body: JSON.stringify(template.payload),
    perSecond: options.perSecond,
    seconds: options.seconds,
    expectedStatus: 202,
  });
}

/**
 * Waits until the backend has registered its project hook and its Receivers (scheduled
 * tasks) and a real push reaches every cluster's receiver; returns that push's delivery.
 */
export async function warmUp(
  world: SandboxWorld,
  clusters: SandboxCluster[],
): Promise<PushTemplate> {
  const project = world.demo.project.pathWithNamespace;
  let template: PushTemplate | undefined;
  await until(
    'a push to reach every cluster through the backend',
    async () => {
      const before = clusters.map(answered200);
      const deliveries = world.gitlab.api.hookDeliveries().length;
      await world.gitlab.api.commitFiles(project, {
        files: { 'bench/warm-up.txt': randomUUID() },
        message: 'Bench: warm-up push',
      });
      await world.gitlab.api.waitForHooks();
      const delivery = world.gitlab.api
        .hookDeliveries()
        .slice(deliveries)
        .find(d => d.statusCode === 202);
      if (!delivery) return false;
      try {
        await until(
          'the receivers',
          () => clusters.every((c, i) => answered200(c) > before[i]),
          { timeoutMs: 3000, everyMs: 20 },
        );
      } catch {
        return false;
      }
      template = { payload: delivery.payload, event: delivery.event };
      return true;
    },
    { timeoutMs: 120_000, everyMs: 1000 },
  );
  return template!;
}

/** One webhook, alone in flight: sent until the last receiver it triggers is called. */
async function timePushToReceivers(
  world: SandboxWorld,
  backend: BenchBackend,
  clusters: SandboxCluster[],
  template: PushTemplate,
): Promise<number> {
  const before = clusters.map(answered200);
  const sentAt = epochNow();
  const response = await sendPush(world, backend, template);
  await response.arrayBuffer();
  if (response.status !== 202) {
    throw new Error(`The webhook was answered ${response.status}`);
  }
  await until(
    'every receiver to be called',
    () => clusters.every((c, i) => answered200(c) > before[i]),
    { timeoutMs: 10_000, everyMs: 1 },
  );
  const arrivals = clusters.map(cluster => {
    const records = cluster.notification.handler.requests;
    return records.filter(r => r.status === 200).at(-1)!.receivedAt;
  });
  return Math.max(...arrivals) - sentAt;
}

/** A real commit until every cluster's bench Kustomization applied it and is Ready. */
async function timePushToReady(
  world: SandboxWorld,
  clusters: SandboxCluster[],
  run: number,
): Promise<number> {
  const started = performance.now();
  const sha = await world.gitlab.api.commitFiles(
    world.demo.project.pathWithNamespace,
    {
      files: { 'bench/push.txt': `push ${run} ${randomUUID()}` },
      message: `Bench: push ${run}`,
    },
  );
  const revision = `main@sha1:${sha}`;
  await until(
    `every cluster to apply ${revision}`,
    () =>
      clusters.every(cluster => {
        const status = benchKustomizationStatus(cluster);
        return status.ready && status.lastAppliedRevision === revision;
      }),
    { timeoutMs: 60_000, everyMs: 5 },
  );
  return performance.now() - started;
}

/**
 * Push to Ready: the GitOps backend turns a Git host push webhook into calls of the Flux
 * Receivers it manages. Measured: its own overhead (webhook in, last receiver called)
 * over `pushes` replayed deliveries one at a time, and real pushes until every cluster
 * applied the commit, against what Flux's interval polling gives on average.
 */
export async function pushScenarios(
  world: SandboxWorld,
  options: {
    clusters: string[];
    pushes: number;
    readyPushes: number;
    throughput: { perSecond: number; seconds: number };
    log(message: string): void;
  },
): Promise<{ latency: PushLatencyResult; throughput: ThroughputResult }> {
  const clusters = options.clusters.map(name => world.cluster(name));
  clusters.forEach(ensureBenchKustomization);
  const backend = await startBenchBackend(world, options.clusters, {
    gitlabEvents: true,
  });
  try {
    await until(
      'the bench Kustomizations to be Ready',
      () => clusters.every(c => benchKustomizationStatus(c).ready),
      { timeoutMs: 60_000 },
    );
    const template = await warmUp(world, clusters);

    // While the backend's own work is timed, the sources are suspended: Flux's receivers
    // still answer and annotate them, but no fetch runs in this process (the world's)
    // to slow the clock; a real cluster does that work elsewhere.
    clusters.forEach(cluster => setSourceSuspended(cluster, true));
    const toReceiver: number[] = [];
    let throughput: ThroughputResult;
    try {
      for (let push = 0; push < options.pushes; push++) {
        toReceiver.push(
          await timePushToReceivers(world, backend, clusters, template),
        );
      }
      options.log(
        `==> Webhook throughput: ${options.throughput.perSecond}/s for ${options.throughput.seconds} s`,
      );
      throughput = await holdRate(world, backend, clusters, template, {
        ...options.throughput,
      });
    } finally {
      clusters.forEach(cluster => setSourceSuspended(cluster, false));
    }

    const toReady: number[] = [];
    for (let run = 0; run < options.readyPushes; run++) {
      toReady.push(await timePushToReady(world, clusters, run));
    }
    const latency: PushLatencyResult = {
      clusters: clusters.length,
      pushes: options.pushes,
      toReceiver: summarize(toReceiver),
      toReady: { ...summarize(toReady), pushes: options.readyPushes },
      pollingExpectedMs: (FLUX_DEFAULT_INTERVAL_S * 1000) / 2,
    };

    return { latency, throughput };
  } finally {
    await backend.stop();
  }
}

/**
 * Sends webhooks at a fixed rate (open loop, from a worker thread), then waits for the
 * receivers to be called for every one of them.
 */
async function holdRate(
  world: SandboxWorld,
  backend: BenchBackend,
  clusters: SandboxCluster[],
  template: PushTemplate,
  options: { perSecond: number; seconds: number },
): Promise<ThroughputResult> {
  const total = options.perSecond * options.seconds;
  const before = clusters.map(answered200);
  const failedBefore = clusters.map(answeredOther);
  const load = await sendWebhooksAtRate(world, backend, template, options);
  const expected = total * clusters.length;
  const made = () =>
    clusters.reduce((sum, c, i) => sum + answered200(c) - before[i], 0);
  try {
    await until(
      'the receivers to be called for every push',
      () => made() >= expected,
      {
        timeoutMs: 60_000,
      },
    );
  } catch {
    // Reported below as calls missing.
  }
  return {
    clusters: clusters.length,
    targetPerSecond: options.perSecond,
    seconds: options.seconds,
    sent: load.sent,
    // n requests span n − 1 intervals.
    achievedPerSecond: (load.sent - 1) / (load.sendingMs / 1000),
    webhookErrors: load.errors,
    webhookErrorKinds: load.errorKinds,
    webhook: summarize(load.answerMs),
    receiverCallsExpected: expected,
    receiverCallsMade: made(),
    receiverErrors: clusters.reduce(
      (sum, c, i) => sum + answeredOther(c) - failedBefore[i],
      0,
    ),
  };
}
