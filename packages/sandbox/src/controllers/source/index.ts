import type { ClusterStore, KubeObject } from '../../kube/types';
import type { ArtifactStorage, Artifact } from '../artifacts';
import type { FluxFaults } from '../faults';
import { startController, watchKind, type Controller } from '../runtime';
import { BUCKET_TYPE, bucketHandler } from './bucket';
import {
  GIT_REPOSITORY_TYPE,
  gitRepositoryHandler,
  type SshTransport,
} from './gitRepository';
import { HELM_CHART_TYPE, helmChartHandler } from './helmChart';
import {
  HELM_REPOSITORY_TYPE,
  helmRepositoryHandler,
  isOciHelmRepository,
  migrateOciHelmRepositoryToStatic,
} from './helmRepository';
import { ociRepositoryHandler } from './ociRepository';
import {
  SOURCE_CONTROLLER,
  reconcileSource,
  type SourceEnvironment,
  type SourceKindHandler,
} from './sourceReconciler';

export { GIT_REPOSITORY_TYPE, type SshTransport } from './gitRepository';
export { OCI_REPOSITORY_TYPE } from './ociRepository';
export { HELM_REPOSITORY_TYPE } from './helmRepository';
export { HELM_CHART_TYPE } from './helmChart';
export { BUCKET_TYPE } from './bucket';

export interface SourceControllerOptions {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  /** Git caches and temporary checkouts. */
  workDir: string;
  sshTransport?: SshTransport;
  requeueDependencyMs?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface SourceController {
  stop(): Promise<void>;
}

function artifactRevision(object: KubeObject | undefined): string | undefined {
  return (object?.status as { artifact?: Artifact } | undefined)?.artifact
    ?.revision;
}

/** source-controller: GitRepository, OCIRepository, Bucket, HelmRepository and HelmChart. */
export function startSourceController(
  options: SourceControllerOptions,
): SourceController {
  const { store, storage } = options;
  const abort = new AbortController();
  const env: SourceEnvironment = {
    store,
    storage,
    faults: options.faults,
    workDir: options.workDir,
    requeueDependencyMs: options.requeueDependencyMs ?? 30_000,
    signal: abort.signal,
  };

  const start = (
    handler: SourceKindHandler,
    reconcile: (
      object: KubeObject,
    ) => ReturnType<typeof reconcileSource> = object =>
      reconcileSource(handler, env, object),
  ): Controller =>
    startController({
      store,
      type: handler.type,
      name: `${SOURCE_CONTROLLER}/${handler.type.kind}`,
      minRetryDelayMs: options.minRetryDelayMs,
      maxRetryDelayMs: options.maxRetryDelayMs,
      reconcile,
      async onDeleted(key) {
        const namespace = key.namespace ?? 'default';
        await storage.removeAll(handler.type.kind, namespace, key.name);
        await handler.cleanup?.(env, namespace, key.name);
      },
    });

  const helmRepository = helmRepositoryHandler();
  const controllers = [
    start(gitRepositoryHandler({ sshTransport: options.sshTransport })),
    start(ociRepositoryHandler()),
    start(bucketHandler()),
    start(helmRepository, async object => {
      if (isOciHelmRepository(object)) {
        migrateOciHelmRepositoryToStatic(store, object);
        return {};
      }
      return reconcileSource(helmRepository, env, object);
    }),
  ];
  const helmCharts = start(helmChartHandler());
  controllers.push(helmCharts);

  // A HelmChart is rebuilt when the artifact revision of its source changes.
  const unwatchSources = [
    GIT_REPOSITORY_TYPE,
    BUCKET_TYPE,
    HELM_REPOSITORY_TYPE,
  ].map(type =>
    watchKind(store, type, (event, previous) => {
      if (event.type === 'DELETED') return;
      const revision = artifactRevision(event.object);
      if (!revision || revision === artifactRevision(previous)) return;
      const { items } = store.list(HELM_CHART_TYPE, {
        namespace: event.object.metadata.namespace,
      });
      for (const chart of items) {
        const ref = (
          chart.spec as
            | { sourceRef?: { kind?: string; name?: string } }
            | undefined
        )?.sourceRef;
        if (
          ref?.kind === type.kind &&
          ref.name === event.object.metadata.name
        ) {
          helmCharts.trigger(chart.metadata.namespace, chart.metadata.name);
        }
      }
    }),
  );

  return {
    async stop() {
      unwatchSources.forEach(unwatch => unwatch());
      abort.abort();
      await Promise.all(controllers.map(c => c.stop()));
    },
  };
}
