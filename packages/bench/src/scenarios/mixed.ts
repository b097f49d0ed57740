import { SandboxWorld } from '@backstage-gitops/sandbox';
import { Agent, fetch } from 'undici';
import { ENTITY_PATH, startBenchBackend } from '../backend';
import { summarize, Summary } from '../stats';
import { until } from '../wait';
import {
  answered200,
  answeredOther,
  sendWebhooksAtRate,
  setSourceSuspended,
  warmUp,
} from './push';

export interface MixedLoadResult {
  clusters: number;
  seconds: number;
  /** Status requests kept in flight at once. */
  concurrency: number;
  statusRequests: number;
  statusErrors: number;
  statusErrorKinds: Record<string, number>;
  status: Summary;
  webhooksPerSecond: number;
  webhooksSent: number;
  webhookErrors: number;
  webhook: Summary;
  receiverCallsExpected: number;
  receiverCallsMade: number;
  receiverErrors: number;
}

/**
 * `concurrency` clients reading the entity's status (each sends its next request when
 * answered) for `seconds`, from this thread with a connection each.
 */
async function holdStatusLoad(
  url: string,
  headers: Record<string, string>,
  concurrency: number,
  seconds: number,
) {
  const dispatcher = new Agent({ connections: concurrency });
  const deadline = performance.now() + seconds * 1000;
  const answerMs: number[] = [];
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        try {
          const response = await fetch(url, { headers, dispatcher });
          await response.arrayBuffer();
          if (response.status !== 200) fail(String(response.status));
        } catch (error) {
          fail(
            (error as { cause?: { code?: string } }).cause?.code ??
              String(error),
          );
        }
        answerMs.push(performance.now() - started);
      }
    }),
  );
  await dispatcher.close();
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return { answerMs, errors, errorKinds };
}

/**
 * Load on one backend from both sides at once: `concurrency` clients reading an
 * entity's status while GitLab push webhooks arrive at a fixed rate, every one of which
 * must be accepted and reach each cluster's receiver.
 */
export async function mixedLoadScenario(
  world: SandboxWorld,
  options: {
    clusters: string[];
    concurrency: number;
    perSecond: number;
    seconds: number;
  },
): Promise<MixedLoadResult> {
  const clusters = options.clusters.map(name => world.cluster(name));
  const backend = await startBenchBackend(world, options.clusters, {
    gitlabEvents: true,
  });
  try {
    const template = await warmUp(world, clusters);
    const statusUrl = `${backend.url}/api/gitops/entities/${ENTITY_PATH}/status`;
    await until(
      'the status to list every cluster',
      async () => {
        const res = await fetch(statusUrl, { headers: backend.headers });
        const body = (await res.json()) as { clusters?: unknown[] };
        return body.clusters?.length === clusters.length;
      },
      { timeoutMs: 60_000 },
    );
    // As in the throughput scenario: receivers answer, no fetch runs in this process.
    clusters.forEach(cluster => setSourceSuspended(cluster, true));
    try {
      const before = clusters.map(answered200);
      const failedBefore = clusters.map(answeredOther);
      const [webhooks, status] = await Promise.all([
        sendWebhooksAtRate(world, backend, template, options),
        holdStatusLoad(
          statusUrl,
          backend.headers,
          options.concurrency,
          options.seconds,
        ),
      ]);
      const expected = options.perSecond * options.seconds * clusters.length;
      const made = () =>
        clusters.reduce((sum, c, i) => sum + answered200(c) - before[i], 0);
      await until('every receiver call', () => made() >= expected, {
        timeoutMs: 60_000,
      }).catch(() => {
        // Reported below as calls missing.
      });
      return {
        clusters: clusters.length,
        seconds: options.seconds,
        concurrency: options.concurrency,
        statusRequests: status.answerMs.length,
        statusErrors: status.errors,
        statusErrorKinds: status.errorKinds,
        status: summarize(status.answerMs),
        webhooksPerSecond: options.perSecond,
        webhooksSent: webhooks.sent,
        webhookErrors: webhooks.errors,
        webhook: summarize(webhooks.answerMs),
        receiverCallsExpected: expected,
        receiverCallsMade: made(),
        receiverErrors: clusters.reduce(
          (sum, c, i) => sum + answeredOther(c) - failedBefore[i],
          0,
        ),
      };
    } finally {
      clusters.forEach(cluster => setSourceSuspended(cluster, false));
    }
  } finally {
    await backend.stop();
  }
}
