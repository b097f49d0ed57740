/** The HelmRelease API shapes and the environment the helm-controller modules share. */
import type { ClusterStore, KubeObject } from '../../kube/types';
import type { ArtifactStorage } from '../artifacts';
import { recordEvent } from '../events';
import type { FluxFaults } from '../faults';
import type { InventoryEntry } from '../kustomize/inventory';
import type { ReconcileOutcome } from '../runtime';
import type { FluxStatus } from '../status';
import {
  impersonatedAccount,
  kubeClientFor,
  type TenancyOptions,
} from '../tenancy';

export const HELM_RELEASE_TYPE = {
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
} as const;

export const HELM_CONTROLLER = 'helm-controller';
export const HELM_GROUP = 'helm.toolkit.fluxcd.io';

interface CrossNamespaceRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface HelmReleaseSpec {
  interval?: string;
  timeout?: string;
  releaseName?: string;
  targetNamespace?: string;
  storageNamespace?: string;
  maxHistory?: number;
  suspend?: boolean;
  chart?: {
    spec?: {
      chart?: string;
      version?: string;
      sourceRef?: CrossNamespaceRef;
      interval?: string;
      reconcileStrategy?: string;
      valuesFiles?: string[];
    };
  };
  chartRef?: CrossNamespaceRef;
  values?: Record<string, unknown>;
  valuesFrom?: Array<{
    kind?: 'ConfigMap' | 'Secret';
    name?: string;
    valuesKey?: string;
    targetPath?: string;
    optional?: boolean;
  }>;
  install?: {
    remediation?: { retries?: number };
    disableWait?: boolean;
    createNamespace?: boolean;
  };
  upgrade?: { remediation?: { retries?: number }; disableWait?: boolean };
  dependsOn?: Array<{ name: string; namespace?: string }>;
  /** The account (in the HelmRelease's namespace) the release is installed as. */
  serviceAccountName?: string;
}

/** One entry of HelmRelease `status.history` (helm-controller Snapshot). */
export interface ReleaseSnapshot {
  name: string;
  namespace: string;
  version: number;
  status: string;
  chartName: string;
  chartVersion: string;
  appVersion?: string;
  configDigest: string;
  digest: string;
  firstDeployed: string;
  lastDeployed: string;
  action?: string;
}

export type HelmReleaseStatus = FluxStatus & {
  helmChart?: string;
  history?: ReleaseSnapshot[];
  inventory?: { entries: InventoryEntry[] };
  storageNamespace?: string;
  lastAttemptedGeneration?: number;
  lastAttemptedRevision?: string;
  lastAttemptedRevisionDigest?: string;
  lastAttemptedConfigDigest?: string;
  lastAttemptedReleaseAction?: 'install' | 'upgrade';
  lastAttemptedReleaseActionDuration?: string;
  lastHandledForceAt?: string;
  lastHandledResetAt?: string;
  failures?: number;
  installFailures?: number;
  upgradeFailures?: number;
};

export interface HelmEnvironment extends TenancyOptions {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  workDir: string;
  requeueDependencyMs: number;
  healthCheckIntervalMs: number;
  signal: AbortSignal;
  onReady(object: KubeObject): void;
}

/** A step failed: Ready=False with this reason and message, then `outcome`. */
export class StepFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly outcome: ReconcileOutcome,
  ) {
    super(message);
  }
}

export function specOf(object: KubeObject): HelmReleaseSpec {
  return (object.spec ?? {}) as HelmReleaseSpec;
}

/**
 * fluxcd/pkg/runtime/acl AccessDeniedError: Stalled=True and Ready=False with reason
 * `AccessDenied`, a Warning event, and no retry (a terminal error).
 */
export class AccessDenied extends StepFailure {
  constructor(message: string) {
    super('AccessDenied', message, {});
  }
}

/**
 * helm-controller's acl.AllowsAccessTo under `--no-cross-namespace-refs`: a reference
 * into another namespace than the HelmRelease's is refused.
 */
export function crossNamespaceRefError(
  env: HelmEnvironment,
  object: KubeObject,
  kind: string,
  namespace: string,
  name: string,
): string | undefined {
  if (!env.noCrossNamespaceRefs || object.metadata.namespace === namespace)
    return undefined;
  return `cross-namespace references are not allowed: cannot access ${kind} ${namespace}/${name}`;
}

/** The account the release is installed as (helm-controller's SetImpersonationConfig), if any. */
export function releaseAccount(env: HelmEnvironment, object: KubeObject) {
  return impersonatedAccount(
    env,
    specOf(object).serviceAccountName,
    object.metadata.namespace ?? 'default',
  );
}

/** What Helm installs, upgrades, uninstalls and stores releases with. */
export function releaseClient(
  env: HelmEnvironment,
  object: KubeObject,
): ClusterStore {
  return kubeClientFor(env.store, releaseAccount(env, object));
}

export function helmEvent(
  env: HelmEnvironment,
  object: KubeObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  metadata?: Record<string, string>,
) {
  recordEvent(env.store, object, {
    type,
    reason,
    message,
    metadata,
    reportingController: HELM_CONTROLLER,
  });
}
