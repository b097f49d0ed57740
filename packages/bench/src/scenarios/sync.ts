import {
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { operationPollDelayMs } from '@backstage-gitops/plugin-gitops-common';
import { SandboxCluster, SandboxWorld } from '@backstage-gitops/sandbox';
import { ENTITY_PATH, startBenchBackend } from '../backend';
import { summarize, Summary } from '../stats';
import {
  ensureBenchKustomization,
  BENCH_KUSTOMIZATION,
} from './benchKustomization';
import { sleep } from '../wait';

/** The Flux plugin's interval between reads of the object after a sync. */
export const PEER_POLL_MS = 2000;
const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';
const TARGET = BENCH_KUSTOMIZATION;

export interface SyncResult {
  /** How long the controller takes for every reconciliation, the same for both sides. */
  controllerMs: number;
  runs: number;
  /** Request until the operation is reported finished by the API (its `finishedAt`). */
  ours: Summary;
  /** Request until the GitOps frontend, reading the operation as it does, shows it. */
  oursUi: Summary;
  /** Merge patch of `requestedAt`, then a read every 2 s until handled and Ready. */
  peer: Summary;
  /** Peer median over ours-as-the-UI-shows-it median, measured in the same run. */
  speedupMedian: number;
}

interface Operation {
  id: string;
  status: string;
  error?: string;
  finishedAt?: string;
}

function customObjects(cluster: SandboxCluster): CustomObjectsApi {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: cluster.name,
        server: cluster.api.url,
        caData: cluster.caData,
        skipTLSVerify: !cluster.caData,
      },
    ],
    users: [{ name: 'admin', token: cluster.tokens.admin }],
    contexts: [{ name: 'admin', cluster: cluster.name, user: 'admin' }],
    currentContext: 'admin',
  });
  return kubeConfig.makeApiClient(CustomObjectsApi);
}

const KUSTOMIZATION = {
  group: 'kustomize.toolkit.fluxcd.io',
  version: 'v1',
  namespace: TARGET.namespace,
  plural: 'kustomizations',
  name: TARGET.name,
};

interface FluxStatus {
  status?: {
    lastHandledReconcileAt?: string;
    conditions?: Array<{ type: string; status: string }>;
  };
}

const readyOf = (object: FluxStatus) =>
  object.status?.conditions?.find(c => c.type === 'Ready')?.status === 'True';

async function isReady(api: CustomObjectsApi): Promise<boolean> {
  return readyOf(
    (await api.getNamespacedCustomObject(KUSTOMIZATION)) as FluxStatus,
  );
}

/** The Flux plugin's sync: annotate, then read every 2 s until handled and Ready. */
async function peerSync(api: CustomObjectsApi): Promise<number> {
  const started = performance.now();
  const requestedAt = new Date().toISOString();
  await api.patchNamespacedCustomObject(
    {
      ...KUSTOMIZATION,
      body: { metadata: { annotations: { [REQUESTED_AT]: requestedAt } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  for (;;) {
    await sleep(PEER_POLL_MS);
    const object = (await api.getNamespacedCustomObject(
      KUSTOMIZATION,
    )) as FluxStatus;
    if (
      object.status?.lastHandledReconcileAt === requestedAt &&
      readyOf(object)
    ) {
      return performance.now() - started;
    }
  }
}

/**
 * "Sync now" until Ready is reported, with the controller taking `controllerMs` for every
 * reconciliation: the GitOps backend's reconcile operation (it follows the object through
 * its watch) against the Flux plugin's merge patch and a read every 2 s.
 */
export async function syncScenario(
  world: SandboxWorld,
  options: { cluster: string; controllerMs: number; runs: number },
): Promise<SyncResult> {
  const cluster = world.cluster(options.cluster);
  ensureBenchKustomization(cluster);
  const backend = await startBenchBackend(world, [options.cluster]);
  const api = customObjects(cluster);
  const entityUrl = `${backend.url}/api/gitops/entities/${ENTITY_PATH}`;
  const getOperation = async (id: string) => {
    const response = await fetch(`${backend.url}/api/gitops/operations/${id}`, {
      headers: backend.headers,
    });
    if (!response.ok) {
      throw new Error(`GET operation: ${response.status}`);
    }
    return (await response.json()) as Operation;
  };

  /** Ours: the request, then the operation read as the frontend does, and its finishedAt. */
  const oursSync = async (): Promise<{ api: number; ui: number }> => {
    const startedEpoch = Date.now();
    const started = performance.now();
    const response = await fetch(`${entityUrl}/reconcile`, {
      method: 'POST',
      headers: { ...backend.headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        target: { cluster: options.cluster, ...TARGET },
      }),
    });
    if (response.status !== 202) {
      throw new Error(
        `POST reconcile: ${response.status} ${await response.text()}`,
      );
    }
    let [operation] = ((await response.json()) as { items: Operation[] }).items;
    while (operation.status === 'pending' || operation.status === 'running') {
      await sleep(operationPollDelayMs(performance.now() - started));
      operation = await getOperation(operation.id);
    }
    const ui = performance.now() - started;
    if (operation.status !== 'succeeded' || !operation.finishedAt) {
      throw new Error(`The reconcile failed: ${operation.error}`);
    }
    return { api: Date.parse(operation.finishedAt) - startedEpoch, ui };
  };

  try {
    // Warm: the cache has the entity's objects on the cluster.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await fetch(`${entityUrl}/status`, {
        headers: backend.headers,
      });
      const body = (await response.json()) as {
        clusters?: Array<{ stale?: boolean; chains?: unknown[] }>;
      };
      if (
        response.ok &&
        body.clusters?.every(c => !c.stale && (c.chains?.length ?? 0) > 0)
      ) {
        break;
      }
      if (Date.now() > deadline) throw new Error('The cache did not sync');
      await sleep(250);
    }
    // And the Kustomization has become Ready once.
    for (;;) {
      if (await isReady(api)) break;
      if (Date.now() > deadline) {
        throw new Error(`${TARGET.name} did not get Ready`);
      }
      await sleep(250);
    }
    cluster.flux.faults.setReconcileDuration(options.controllerMs);
    const ours: number[] = [];
    const oursUi: number[] = [];
    const peer: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const measured = await oursSync();
      ours.push(measured.api);
      oursUi.push(measured.ui);
      peer.push(await peerSync(api));
    }
    const oursUiSummary = summarize(oursUi);
    const peerSummary = summarize(peer);
    return {
      controllerMs: options.controllerMs,
      runs: options.runs,
      ours: summarize(ours),
      oursUi: oursUiSummary,
      peer: peerSummary,
      speedupMedian: peerSummary.median / oursUiSummary.median,
    };
  } finally {
    cluster.flux.faults.setReconcileDuration(0);
    await backend.stop();
  }
}
