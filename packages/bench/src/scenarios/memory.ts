import { mockCredentials } from '@backstage/backend-test-utils';
import { SandboxFleet, startFleet } from '@backstage-gitops/sandbox';
import { launchProbe } from '../probe/launch';

const MiB = 2 ** 20;

export interface MemoryResult {
  clusters: number;
  objectsPerCluster: number;
  cachedObjects: number;
  /** Process start until the backend serves requests (its caches still filling). */
  backendReadyMs: number;
  /** Process start until every cluster's cache holds every object: the cold start. */
  coldStartMs: number;
  /** The backend process with the same clusters and no Flux objects, after a full GC. */
  baseline: { rssMiB: number; heapUsedMiB: number };
  /** The backend process with every object cached, after a full GC. */
  full: { rssMiB: number; heapUsedMiB: number };
  /** (full − baseline) RSS per 100,000 cached objects. */
  rssPer100kMiB: number;
}

interface ClustersResponse {
  items: Array<{ health: { stale: boolean; cachedObjects?: number } }>;
}

/** A backend process watching every fleet cluster, from start to every object cached. */
async function runProbe(
  fleet: SandboxFleet,
  expectedObjects: number,
): Promise<{
  backendReadyMs: number;
  coldStartMs: number;
  usage: NodeJS.MemoryUsage;
}> {
  const probe = await launchProbe({
    config: {
      kubernetes: {
        serviceLocatorMethod: { type: 'multiTenant' },
        clusterLocatorMethods: [
          {
            type: 'config',
            clusters: fleet.clusters.map(cluster => ({
              name: cluster.name,
              url: cluster.api.url,
              authProvider: 'serviceAccount',
              serviceAccountToken: cluster.token,
              skipTLSVerify: true,
              skipMetricsLookup: true,
            })),
          },
        ],
      },
    },
    entities: [],
    features: {},
  });
  try {
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      const response = await fetch(`${probe.url}/api/gitops/clusters`, {
        headers: { Authorization: mockCredentials.user.header() },
      });
      // A backend busy filling its caches may answer late or not at all: ask again.
      if (!response.ok) {
        const answer = `${response.status} ${await response.text()}`;
        if (Date.now() > deadline) throw new Error(`GET /clusters: ${answer}`);
        await new Promise(resolve => setTimeout(resolve, 100));
        continue;
      }
      const { items } = (await response.json()) as ClustersResponse;
      const cached = items.reduce(
        (sum, item) => sum + (item.health.cachedObjects ?? 0),
        0,
      );
      if (
        items.length === fleet.clusters.length &&
        items.every(item => !item.health.stale) &&
        cached === expectedObjects
      ) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `The caches did not fill: ${cached} of ${expectedObjects} objects`,
        );
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    const coldStartMs = performance.now() - probe.startedAt;
    return {
      backendReadyMs: probe.readyMs,
      coldStartMs,
      usage: await probe.memory(),
    };
  } finally {
    await probe.stop();
  }
}

/**
 * Memory and cold start: a GitOps backend in a process of its own watches `clusters`
 * clusters, first with no Flux objects (the baseline), then with `objectsPerCluster` each;
 * the difference in RSS is what the cached objects cost.
 */
export async function memoryScenario(options: {
  clusters: number;
  objectsPerCluster: number;
}): Promise<MemoryResult> {
  const fleet = await startFleet({ clusters: options.clusters });
  try {
    const baseline = await runProbe(fleet, 0);
    fleet.seed(options.objectsPerCluster);
    const cachedObjects = options.clusters * options.objectsPerCluster;
    const full = await runProbe(fleet, cachedObjects);
    const megabytes = (usage: NodeJS.MemoryUsage) => ({
      rssMiB: usage.rss / MiB,
      heapUsedMiB: usage.heapUsed / MiB,
    });
    return {
      clusters: options.clusters,
      objectsPerCluster: options.objectsPerCluster,
      cachedObjects,
      backendReadyMs: full.backendReadyMs,
      coldStartMs: full.coldStartMs,
      baseline: megabytes(baseline.usage),
      full: megabytes(full.usage),
      rssPer100kMiB:
        ((full.usage.rss - baseline.usage.rss) / MiB / cachedObjects) * 100_000,
    };
  } finally {
    await fleet.stop();
  }
}
