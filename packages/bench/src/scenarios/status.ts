import { BACKSTAGE_USER, SandboxWorld } from '@backstage-gitops/sandbox';
import {
  BenchBackend,
  ENTITY,
  ENTITY_PATH,
  startBenchBackend,
} from '../backend';
import { medianOfRuns, summarize, Summary, timeEach } from '../stats';
import { sleep, until } from '../wait';

/** The Flux kinds the community Flux plugin asks the Kubernetes plugin for. */
const FLUX_CUSTOM_RESOURCES = [
  ['source.toolkit.fluxcd.io', 'v1', 'gitrepositories'],
  ['source.toolkit.fluxcd.io', 'v1', 'ocirepositories'],
  ['source.toolkit.fluxcd.io', 'v1', 'helmrepositories'],
  ['kustomize.toolkit.fluxcd.io', 'v1', 'kustomizations'],
  ['helm.toolkit.fluxcd.io', 'v2', 'helmreleases'],
].map(([group, apiVersion, plural]) => ({ group, apiVersion, plural }));

export interface StatusResult {
  clusters: number;
  latencyMs: number;
  runs: number;
  ours: Summary & { clusterCallsPerRequest: number };
  peer: Summary & { clusterCallsPerRequest: number };
  /** Peer p95 over ours, measured in the same run. */
  speedupP95: number;
}

function clusterCalls(world: SandboxWorld, clusters: string[]): number {
  return clusters.reduce(
    (sum, name) => sum + world.cluster(name).api.requestsBy(BACKSTAGE_USER),
    0,
  );
}

/**
 * Waits out the backend's start-up work, whose cluster calls are not the status
 * requests': its first Receiver round (5 s after start) applies a Receiver and its token
 * on every cluster, and its first token inventory (20 s after start) reads the Secrets
 * Flux uses. Counting starts once both are done and the backend is quiet.
 */
async function untilStartupWorkDone(
  world: SandboxWorld,
  backend: BenchBackend,
  clusters: string[],
): Promise<void> {
  await until(
    "the backend's Receivers on every cluster",
    () =>
      clusters.every(name =>
        world
          .cluster(name)
          .api.store.list(
            {
              apiVersion: 'notification.toolkit.fluxcd.io/v1',
              kind: 'Receiver',
            },
            { labelSelector: 'app.kubernetes.io/managed-by=backstage-gitops' },
          )
          .items.some(
            receiver =>
              (receiver.status as { webhookPath?: string } | undefined)
                ?.webhookPath,
          ),
      ),
    { timeoutMs: 60_000, everyMs: 200 },
  );
  await until(
    "the backend's first token inventory",
    async () => {
      const response = await fetch(`${backend.url}/api/gitops/tokens`, {
        headers: backend.headers,
      });
      const body = (await response.json()) as { items?: unknown[] };
      return response.ok && (body.items?.length ?? 0) > 0;
    },
    { timeoutMs: 60_000, everyMs: 500 },
  );
  for (;;) {
    const before = clusterCalls(world, clusters);
    await sleep(1000);
    if (clusterCalls(world, clusters) === before) return;
  }
}

async function expectOk(response: Response, what: string) {
  if (!response.ok) {
    throw new Error(`${what}: ${response.status} ${await response.text()}`);
  }
  await response.arrayBuffer();
}

/**
 * Entity status on `clusters` clusters, each API call delayed by `latencyMs`: the GitOps
 * backend's status (from its watch caches) against the Kubernetes plugin's custom
 * resource query for the Flux kinds (what the community Flux plugin does per page view).
 */
export async function statusScenario(
  world: SandboxWorld,
  options: {
    clusters: string[];
    latencyMs: number;
    requests: number;
    /** Repeated runs; each figure is the median over them. */
    runs: number;
  },
): Promise<StatusResult> {
  const { clusters, latencyMs, requests, runs } = options;
  const backend = await startBenchBackend(world, clusters, {
    kubernetes: true,
  });
  try {
    const statusUrl = `${backend.url}/api/gitops/entities/${ENTITY_PATH}/status`;
    // Warm: every cluster's cache synced and the entity's chains there.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const response = await fetch(statusUrl, { headers: backend.headers });
      const body = (await response.json()) as {
        clusters?: Array<{ stale?: boolean; chains?: unknown[] }>;
      };
      const ready =
        response.ok &&
        body.clusters?.length === clusters.length &&
        body.clusters.every(c => !c.stale && (c.chains?.length ?? 0) > 0);
      if (ready) break;
      if (Date.now() > deadline) {
        throw new Error(
          `The GitOps caches did not sync: ${JSON.stringify(body).slice(
            0,
            300,
          )}`,
        );
      }
      await new Promise(resolve => setTimeout(resolve, 500));
    }
    await untilStartupWorkDone(world, backend, clusters);
    for (const name of clusters) {
      world.cluster(name).api.faults.setLatency(latencyMs);
    }

    const peerBody = JSON.stringify({
      entityRef: `${ENTITY.kind}:${ENTITY.namespace}/${ENTITY.name}`,
      auth: {},
      customResources: FLUX_CUSTOM_RESOURCES,
    });
    const ourRuns: Summary[] = [];
    const peerRuns: Summary[] = [];
    let ourCalls = 0;
    let peerCalls = 0;
    // Alternating, so both sides meet the same background (GC, the world's timers).
    for (let run = 0; run < runs; run++) {
      const ourCallsBefore = clusterCalls(world, clusters);
      const ours = await timeEach(requests, async () => {
        await expectOk(
          await fetch(statusUrl, { headers: backend.headers }),
          'GitOps status',
        );
      });
      ourCalls += clusterCalls(world, clusters) - ourCallsBefore;
      ourRuns.push(summarize(ours));

      const peerCallsBefore = clusterCalls(world, clusters);
      const peer = await timeEach(requests, async () => {
        await expectOk(
          await fetch(`${backend.url}/api/kubernetes/resources/custom/query`, {
            method: 'POST',
            headers: { ...backend.headers, 'Content-Type': 'application/json' },
            body: peerBody,
          }),
          'Kubernetes custom resource query',
        );
      });
      peerCalls += clusterCalls(world, clusters) - peerCallsBefore;
      peerRuns.push(summarize(peer));
    }

    const oursSummary = medianOfRuns(ourRuns);
    const peerSummary = medianOfRuns(peerRuns);
    return {
      clusters: clusters.length,
      latencyMs,
      runs,
      ours: {
        ...oursSummary,
        clusterCallsPerRequest: ourCalls / (requests * runs),
      },
      peer: {
        ...peerSummary,
        clusterCallsPerRequest: peerCalls / (requests * runs),
      },
      speedupP95: peerSummary.p95 / oursSummary.p95,
    };
  } finally {
    for (const name of clusters) world.cluster(name).api.faults.setLatency(0);
    await backend.stop();
  }
}
