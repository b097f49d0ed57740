import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterStore } from '../kube/types';
import { ArtifactStorage } from './artifacts';
import { FluxFaults } from './faults';
import { startHelmController } from './helm';
import { startKustomizeController } from './kustomize';
import { startSourceController, type SshTransport } from './source';
import type { TenancyOptions } from './tenancy';
import { startWorkloadController } from './workloads';

export { ArtifactStorage, DEFAULT_ARTIFACT_HOSTNAME } from './artifacts';
export type { Artifact } from './artifacts';
export { FluxFaults } from './faults';
export { recordEvent } from './events';
export type { EventInput } from './events';
export {
  RECONCILE_REQUESTED_AT,
  reconcileRequested,
  sleep,
  startController,
  watchKind,
} from './runtime';
export type {
  Controller,
  ControllerOptions,
  ReconcileContext,
  ReconcileOutcome,
  WatchListener,
} from './runtime';
export {
  Conditions,
  kubeTime,
  findCondition,
  conditionsOf,
} from './conditions';
export type { Condition, ConditionStatus } from './conditions';
export { StatusSession, FLUX_FINALIZER } from './status';
export { computeKStatus } from './kstatus';
export type { KStatus, KStatusResult } from './kstatus';
export { formatGoDuration, parseGoDuration } from './duration';
export { startSourceController } from './source';
export type { SshTransport, SourceControllerOptions } from './source';
export { startKustomizeController } from './kustomize';
export type { KustomizeControllerOptions } from './kustomize';
export { startHelmController } from './helm';
export type { HelmControllerOptions } from './helm';
export { startWorkloadController } from './workloads';
export type { TenancyOptions } from './tenancy';
export type { WorkloadControllerOptions } from './workloads';

export interface StartFluxControllersOptions {
  /** The cluster the controllers run in. */
  store: ClusterStore;
  /** Artifacts (`<dataDir>/artifacts`), Git caches and temporary files (`<dataDir>/work`). */
  dataDir: string;
  /** Lets `ssh://` GitRepositories fetch over the sandbox's Git HTTP server (see SshTransport). */
  sshTransport?: SshTransport;
  /** Initial minimum duration of every reconciliation (see `faults.setReconcileDuration`). Default 0. */
  reconcileDelayMs?: number;
  /** How long a Deployment rollout takes until it is ready. Default 1s. */
  deploymentReadyDelayMs?: number;
  /** Run the Deployment stand-in (set false when something else updates Deployment status). Default true. */
  workloads?: boolean;
  /** Flux's `--requeue-dependency`. Default 30s. */
  requeueDependencyMs?: number;
  /** How often Kustomization health checks and Helm waits poll. Default 5s, as Flux. */
  healthCheckIntervalMs?: number;
  /** Backoff of failed reconciliations. Defaults 750ms and 15m, as Flux. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Host in `status.artifact.url`. Default `source-controller.flux-system.svc.cluster.local.`. */
  artifactHostname?: string;
  /**
   * kustomize-controller's and helm-controller's `--default-service-account`: objects
   * without `spec.serviceAccountName` are applied as this account of their namespace.
   * Default none (the controllers' own rights).
   */
  defaultServiceAccount?: string;
  /** Their `--no-cross-namespace-refs=true`. Default false. */
  noCrossNamespaceRefs?: boolean;
}

export interface FluxControllers {
  /**
   * Faults to inject:
   * - `failSourceFetch(kind, namespace, name, message | undefined)`: fetching that source
   *   (GitRepository, OCIRepository, Bucket, HelmRepository) fails with `message` until
   *   cleared with `undefined`, reported like a real fetch failure (`FetchFailed`).
   * - `failApply(namespace, name, message | undefined)`: applying the Kustomization (or
   *   HelmRelease) fails with `message` until cleared (`ReconciliationFailed`, or
   *   `InstallFailed`/`UpgradeFailed`).
   * - `setReconcileDuration(ms)`: every reconciliation takes at least `ms` between
   *   `Reconciling=True` and its final status.
   * A fault applies from the next reconciliation on; nothing is triggered by setting it.
   */
  faults: FluxFaults;
  /** source-controller's artifact storage. */
  artifacts: ArtifactStorage;
  /** The directory holding the artifacts of one source object. */
  getArtifactDir(kind: string, namespace: string, name: string): string;
  /** Stops every controller and waits for running reconciliations to end. */
  stop(): Promise<void>;
}

/**
 * Starts simulated Flux v2.9 controllers (source, kustomize, helm) and a Deployment
 * stand-in on one cluster store.
 */
export async function startFluxControllers(
  options: StartFluxControllersOptions,
): Promise<FluxControllers> {
  const artifactsDir = join(options.dataDir, 'artifacts');
  const workDir = join(options.dataDir, 'work');
  await mkdir(artifactsDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const artifacts = new ArtifactStorage(artifactsDir, options.artifactHostname);
  const faults = new FluxFaults();
  faults.setReconcileDuration(options.reconcileDelayMs ?? 0);
  const shared = {
    store: options.store,
    storage: artifacts,
    faults,
    requeueDependencyMs: options.requeueDependencyMs,
    minRetryDelayMs: options.minRetryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs,
  };
  const tenancy: TenancyOptions = {
    defaultServiceAccount: options.defaultServiceAccount,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs,
  };
  const running = [
    startSourceController({
      ...shared,
      workDir: join(workDir, 'source-controller'),
      sshTransport: options.sshTransport,
    }),
    startKustomizeController({
      ...shared,
      ...tenancy,
      workDir: join(workDir, 'kustomize-controller'),
      healthCheckIntervalMs: options.healthCheckIntervalMs,
    }),
    startHelmController({
      ...shared,
      ...tenancy,
      workDir: join(workDir, 'helm-controller'),
      healthCheckIntervalMs: options.healthCheckIntervalMs,
    }),
    ...(options.workloads === false
      ? []
      : [
          startWorkloadController({
            store: options.store,
            readyDelayMs: options.deploymentReadyDelayMs,
          }),
        ]),
  ];
  return {
    faults,
    artifacts,
    getArtifactDir: (kind, namespace, name) =>
      artifacts.objectDir(kind, namespace, name),
    async stop() {
      await Promise.all(running.map(controller => controller.stop()));
    },
  };
}
