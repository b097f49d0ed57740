import type { ClusterStore, KubeObject } from '../../kube/types';
import type { Artifact, ArtifactStorage } from '../artifacts';
import { READY } from '../conditions';
import type { FluxFaults } from '../faults';
import { startController, watchKind, type Controller } from '../runtime';
import type { TenancyOptions } from '../tenancy';
import { HELM_CHART_TYPE } from '../source/helmChart';
import {
  HELM_CONTROLLER,
  HELM_RELEASE_TYPE,
  reconcileHelmRelease,
  type HelmEnvironment,
  type HelmReleaseSpec,
} from './helmRelease';

export { HELM_RELEASE_TYPE } from './helmRelease';

export interface HelmControllerOptions extends TenancyOptions {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  workDir: string;
  requeueDependencyMs?: number;
  healthCheckIntervalMs?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface HelmController {
  stop(): Promise<void>;
}

const OCI_REPOSITORY_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'OCIRepository',
};

function artifactRevision(object: KubeObject | undefined): string | undefined {
  return (object?.status as { artifact?: Artifact } | undefined)?.artifact
    ?.revision;
}

interface ReleaseStatusView {
  helmChart?: string;
  lastAttemptedRevision?: string;
  conditions?: Array<{ type: string; status: string }>;
}

/** helm-controller: HelmReleases, woken up by chart artifact revisions and ready dependencies. */
export function startHelmController(
  options: HelmControllerOptions,
): HelmController {
  const { store } = options;
  const abort = new AbortController();
  // Assigned below; the environment needs it to wake up dependents.
  let controller: Controller | undefined = undefined;

  const env: HelmEnvironment = {
    store,
    storage: options.storage,
    faults: options.faults,
    workDir: options.workDir,
    requeueDependencyMs: options.requeueDependencyMs ?? 30_000,
    healthCheckIntervalMs: options.healthCheckIntervalMs ?? 5_000,
    defaultServiceAccount: options.defaultServiceAccount,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs ?? false,
    signal: abort.signal,
    onReady(ready) {
      for (const candidate of store.list(HELM_RELEASE_TYPE).items) {
        const dependsOn =
          (candidate.spec as HelmReleaseSpec | undefined)?.dependsOn ?? [];
        if (
          dependsOn.some(
            dep =>
              dep.name === ready.metadata.name &&
              (dep.namespace || candidate.metadata.namespace) ===
                ready.metadata.namespace,
          )
        ) {
          controller?.trigger(
            candidate.metadata.namespace,
            candidate.metadata.name,
          );
        }
      }
    },
  };

  const started = startController({
    store,
    type: HELM_RELEASE_TYPE,
    name: HELM_CONTROLLER,
    minRetryDelayMs: options.minRetryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs,
    reconcile: object => reconcileHelmRelease(env, object),
  });
  controller = started;

  // requestsForHelmChartChange / requestsForOCIRepositoryChange: skip releases already at that revision.
  const onChartSource =
    (kind: string) =>
    (source: KubeObject, previous: KubeObject | undefined) => {
      const revision = artifactRevision(source);
      if (!revision || revision === artifactRevision(previous)) return;
      const reference = `${source.metadata.namespace}/${source.metadata.name}`;
      for (const release of store.list(HELM_RELEASE_TYPE).items) {
        const status = (release.status ?? {}) as ReleaseStatusView;
        const chartRef = (release.spec as HelmReleaseSpec | undefined)
          ?.chartRef;
        const usesSource =
          (kind === 'HelmChart' && status.helmChart === reference) ||
          (chartRef?.kind === kind &&
            chartRef.name === source.metadata.name &&
            (chartRef.namespace || release.metadata.namespace) ===
              source.metadata.namespace);
        if (!usesSource) continue;
        const ready = status.conditions?.some(
          c => c.type === READY && c.status === 'True',
        );
        if (ready && status.lastAttemptedRevision === revision) continue;
        started.trigger(release.metadata.namespace, release.metadata.name);
      }
    };
  const unwatch = [HELM_CHART_TYPE, OCI_REPOSITORY_TYPE].map(type => {
    const handle = onChartSource(type.kind);
    return watchKind(store, type, (event, previous) => {
      if (event.type !== 'DELETED') handle(event.object, previous);
    });
  });

  return {
    async stop() {
      unwatch.forEach(u => u());
      abort.abort();
      await started.stop();
    },
  };
}
