import type { ClusterStore, KubeObject } from '../../kube/types';
import type { Artifact, ArtifactStorage } from '../artifacts';
import type { FluxFaults } from '../faults';
import { startController, watchKind, type Controller } from '../runtime';
import type { TenancyOptions } from '../tenancy';
import {
  KUSTOMIZATION_TYPE,
  KUSTOMIZE_CONTROLLER,
  reconcileKustomization,
  type KustomizationSpec,
  type KustomizeEnvironment,
} from './kustomization';

export { KUSTOMIZATION_TYPE } from './kustomization';

export interface KustomizeControllerOptions extends TenancyOptions {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  workDir: string;
  requeueDependencyMs?: number;
  healthCheckIntervalMs?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface KustomizeController {
  stop(): Promise<void>;
}

const SOURCE_TYPES = ['GitRepository', 'OCIRepository', 'Bucket'].map(kind => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind,
}));

function artifactRevision(object: KubeObject | undefined): string | undefined {
  return (object?.status as { artifact?: Artifact } | undefined)?.artifact
    ?.revision;
}

/** kustomize-controller: Kustomizations, woken up by source revisions and ready dependencies. */
export function startKustomizeController(
  options: KustomizeControllerOptions,
): KustomizeController {
  const { store } = options;
  const abort = new AbortController();
  // Assigned below; the environment needs it to wake up dependents.
  let controller: Controller | undefined = undefined;

  const dependentsOf = (ready: KubeObject): KubeObject[] =>
    store
      .list(KUSTOMIZATION_TYPE)
      .items.filter(candidate =>
        (
          (candidate.spec as KustomizationSpec | undefined)?.dependsOn ?? []
        ).some(
          dep =>
            dep.name === ready.metadata.name &&
            (dep.namespace || candidate.metadata.namespace) ===
              ready.metadata.namespace,
        ),
      );

  const env: KustomizeEnvironment = {
    store,
    storage: options.storage,
    faults: options.faults,
    workDir: options.workDir,
    requeueDependencyMs: options.requeueDependencyMs ?? 30_000,
    healthCheckIntervalMs: options.healthCheckIntervalMs ?? 5_000,
    defaultServiceAccount: options.defaultServiceAccount,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs ?? false,
    signal: abort.signal,
    onReady(object) {
      for (const dependent of dependentsOf(object)) {
        controller?.trigger(
          dependent.metadata.namespace,
          dependent.metadata.name,
        );
      }
    },
  };

  const started = startController({
    store,
    type: KUSTOMIZATION_TYPE,
    name: KUSTOMIZE_CONTROLLER,
    minRetryDelayMs: options.minRetryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs,
    reconcile: object => reconcileKustomization(env, object),
  });
  controller = started;

  // A new source revision reconciles the Kustomizations that use it at once.
  const unwatchSources = SOURCE_TYPES.map(type =>
    watchKind(store, type, (event, previous) => {
      if (event.type === 'DELETED') return;
      const revision = artifactRevision(event.object);
      if (!revision || revision === artifactRevision(previous)) return;
      for (const kustomization of store.list(KUSTOMIZATION_TYPE).items) {
        const ref = (kustomization.spec as KustomizationSpec | undefined)
          ?.sourceRef;
        if (
          ref?.kind === type.kind &&
          ref.name === event.object.metadata.name &&
          (ref.namespace || kustomization.metadata.namespace) ===
            event.object.metadata.namespace
        ) {
          started.trigger(
            kustomization.metadata.namespace,
            kustomization.metadata.name,
          );
        }
      }
    }),
  );

  return {
    async stop() {
      unwatchSources.forEach(unwatch => unwatch());
      abort.abort();
      await started.stop();
    },
  };
}
