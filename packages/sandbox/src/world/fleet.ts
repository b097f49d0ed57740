import { createHash } from 'node:crypto';
import {
  createClusterStore,
  KubeApiServer,
  loadResourceTypes,
  PolicyRule,
  startKubeApiServer,
} from '../kube';
import { KubeObject } from '../kube/types';
import { BACKSTAGE_USER } from './cluster';
import { randomToken } from './secrets';

/** What the fleet's Backstage token may do: read, as the cache does. */
const READ_RULES: PolicyRule[] = [
  { verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['*'] },
];

/** Applications spread over this many namespaces per cluster, as teams would. */
const NAMESPACES = 10;

export interface FleetCluster {
  name: string;
  api: KubeApiServer;
  /** A read-only bearer token (the backend's user, `BACKSTAGE_USER`). */
  token: string;
}

export interface SandboxFleet {
  clusters: FleetCluster[];
  /** Flux objects each cluster serves so far (the same on all). */
  objectsPerCluster: number;
  /** Adds Flux objects until every cluster serves `count`. */
  seed(count: number): void;
  stop(): Promise<void>;
}

const hex = (seed: string, length: number) =>
  createHash('sha256').update(seed).digest('hex').slice(0, length);

/**
 * The objects of application `position / 2`: its GitRepository at even positions, its
 * Kustomization at odd ones, with the status the controllers would have written.
 */
function fleetObject(
  position: number,
  now: string,
): { object: KubeObject; status: Record<string, unknown> } {
  const app = `app-${String(Math.floor(position / 2)).padStart(5, '0')}`;
  const namespace = `team-${Math.floor(position / 2) % NAMESPACES}`;
  const revision = `main@sha1:${hex(app, 40)}`;
  const ready = (reason: string, message: string) => ({
    type: 'Ready',
    status: 'True',
    reason,
    message,
    observedGeneration: 1,
    lastTransitionTime: now,
  });
  if (position % 2 === 0) {
    return {
      object: {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: app, namespace },
        spec: {
          interval: '5m',
          url: `https://gitlab.example.com/${namespace}/${app}.git`,
          ref: { branch: 'main' },
          secretRef: { name: `${app}-auth` },
          timeout: '60s',
        },
      },
      status: {
        observedGeneration: 1,
        conditions: [
          ready('Succeeded', `stored artifact for revision '${revision}'`),
          {
            ...ready('Succeeded', `stored artifact for revision '${revision}'`),
            type: 'ArtifactInStorage',
          },
        ],
        artifact: {
          path: `gitrepository/${namespace}/${app}/${hex(revision, 40)}.tar.gz`,
          url: `http://source-controller.flux-system.svc.cluster.local./gitrepository/${namespace}/${app}/${hex(
            revision,
            40,
          )}.tar.gz`,
          revision,
          digest: `sha256:${hex(`${revision}/digest`, 64)}`,
          lastUpdateTime: now,
          size: 20_480,
        },
      },
    };
  }
  return {
    object: {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: {
        name: app,
        namespace,
        labels: { 'backstage.io/kubernetes-id': app },
      },
      spec: {
        interval: '10m',
        path: `./apps/${app}`,
        prune: true,
        wait: true,
        timeout: '5m',
        sourceRef: { kind: 'GitRepository', name: app },
        targetNamespace: app,
      },
    },
    status: {
      observedGeneration: 1,
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      conditions: [
        ready('ReconciliationSucceeded', `Applied revision: ${revision}`),
      ],
      inventory: {
        entries: [
          { id: `_${app}__Namespace`, v: 'v1' },
          { id: `${app}_${app}__ServiceAccount`, v: 'v1' },
          { id: `${app}_${app}__Service`, v: 'v1' },
          { id: `${app}_${app}_apps_Deployment`, v: 'v1' },
          { id: `${app}_${app}_autoscaling_HorizontalPodAutoscaler`, v: 'v2' },
        ],
      },
    },
  };
}

/**
 * Many lightweight clusters for benchmarks at scale: API servers only (no controllers,
 * plain HTTP) that all serve one store of synthetic but schema-valid Flux objects with
 * realistic status. Sharing the store keeps the world small (a client still receives,
 * parses and keeps each cluster's copy separately), so the client's memory can be
 * measured at a million objects on one machine.
 */
export async function startFleet(options: {
  clusters: number;
}): Promise<SandboxFleet> {
  const store = createClusterStore({
    clusterName: 'fleet',
    types: await loadResourceTypes(),
    // Seeding writes far more than a watch needs to resume from.
    historyLimit: 100,
    initialNamespaces: Array.from(
      { length: NAMESPACES },
      (_, n) => `team-${n}`,
    ),
  });
  const clusters: FleetCluster[] = [];
  const stop = async () => {
    await Promise.all(clusters.map(cluster => cluster.api.stop()));
    store.close();
  };
  try {
    for (let i = 0; i < options.clusters; i++) {
      const token = randomToken('k8s-fleet');
      const api = await startKubeApiServer({
        store,
        tokens: {
          [token]: {
            user: BACKSTAGE_USER,
            rules: READ_RULES,
          },
        },
      });
      clusters.push({ name: `f${String(i + 1).padStart(3, '0')}`, api, token });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const fleet: SandboxFleet = {
    clusters,
    objectsPerCluster: 0,
    seed(count) {
      const now = new Date().toISOString();
      for (
        let position = fleet.objectsPerCluster;
        position < count;
        position++
      ) {
        const { object, status } = fleetObject(position, now);
        const created = store.create(object);
        store.update({ ...created, status } as KubeObject, {
          subresource: 'status',
        });
      }
      fleet.objectsPerCluster = Math.max(fleet.objectsPerCluster, count);
    },
    stop,
  };
  return fleet;
}
