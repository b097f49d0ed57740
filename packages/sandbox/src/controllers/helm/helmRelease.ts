import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterStore, KubeObject } from '../../kube/types';
import type { Artifact } from '../artifacts';
import {
  PROGRESSING_REASON,
  PROGRESSING_WITH_RETRY_REASON,
  READY,
  RECONCILING,
  STALLED,
  kubeTime,
} from '../conditions';
import { durationOr, formatGoDuration } from '../duration';
import { applyAll, deleteAll, labelObjects } from '../kustomize/apply';
import { waitForSet } from '../kustomize/health';
import {
  parseInventoryEntry,
  staleEntries,
  type InventoryEntry,
} from '../kustomize/inventory';
import type { ReconcileOutcome } from '../runtime';
import {
  StatusSession,
  ensureFinalizer,
  isSuspended,
  recordSuspended,
  removeFinalizer,
} from '../status';
import { loadChart, mergeValues, renderChart, type LoadedChart } from './chart';
import {
  ChartTemplateError,
  deleteHelmChart,
  isReadyAndObserved,
  reconcileChartTemplate,
  resolveChartArtifact,
} from './chartTemplate';
import {
  deleteReleases,
  markRelease,
  releaseDigest,
  storeRelease,
  type HelmReleaseRecord,
} from './releaseStorage';
import { canImpersonate } from '../tenancy';
import {
  AccessDenied,
  HELM_CONTROLLER,
  HELM_GROUP,
  HELM_RELEASE_TYPE,
  StepFailure,
  helmEvent,
  releaseAccount,
  releaseClient,
  specOf,
  type HelmEnvironment,
  type HelmReleaseStatus,
  type ReleaseSnapshot,
} from './types';
import { composeValues, digestValues } from './values';

export { HELM_CONTROLLER, HELM_RELEASE_TYPE } from './types';
export type {
  HelmEnvironment,
  HelmReleaseSpec,
  ReleaseSnapshot,
} from './types';

const FORCE_AT = 'reconcile.fluxcd.io/forceAt';
const RESET_AT = 'reconcile.fluxcd.io/resetAt';
const RELEASED = 'Released';
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_MAX_HISTORY = 5;

function statusOf(object: KubeObject): HelmReleaseStatus {
  return (object.status ?? {}) as HelmReleaseStatus;
}

/** Helm's release name: `spec.releaseName`, else `[<targetNamespace>-]<name>`, shortened past 53 characters. */
function releaseNameOf(object: KubeObject): string {
  const spec = specOf(object);
  const name =
    spec.releaseName ||
    (spec.targetNamespace
      ? `${spec.targetNamespace}-${object.metadata.name}`
      : object.metadata.name);
  if (name.length <= 53) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${name.slice(0, 40)}-${hash}`;
}

function checkDependencies(
  store: ClusterStore,
  object: KubeObject,
): string | undefined {
  for (const dependency of specOf(object).dependsOn ?? []) {
    const namespace =
      dependency.namespace || object.metadata.namespace || 'default';
    const name = `${namespace}/${dependency.name}`;
    const dep = store.get(HELM_RELEASE_TYPE, namespace, dependency.name);
    if (!dep) {
      return `unable to get '${name}' dependency: helmreleases.helm.toolkit.fluxcd.io "${dependency.name}" not found`;
    }
    if (!isReadyAndObserved(dep)) return `dependency '${name}' is not ready`;
  }
  return undefined;
}

async function loadChartArtifact(
  env: HelmEnvironment,
  artifact: Artifact,
): Promise<LoadedChart> {
  await mkdir(join(env.workDir, 'tmp'), { recursive: true });
  const dir = await mkdtemp(join(env.workDir, 'tmp', 'helmrelease-'));
  try {
    await env.storage.extract(artifact, dir);
    return await loadChart(dir);
  } catch (error) {
    throw new StepFailure(
      'ArtifactFailed',
      `failed to load chart: ${(error as Error).message}`,
      {
        retryWithBackoff: true,
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Uninstall: deletes the release's objects and stored revisions. */
function uninstall(
  env: HelmEnvironment,
  object: KubeObject,
  status: HelmReleaseStatus,
): ReleaseSnapshot | undefined {
  const latest = status.history?.[0];
  if (!latest) return undefined;
  const client = releaseClient(env, object);
  deleteAll(client, status.inventory?.entries ?? [], {
    group: HELM_GROUP,
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? 'default',
  });
  deleteReleases(
    client,
    status.storageNamespace || object.metadata.namespace || 'default',
    latest.name,
  );
  return latest;
}

async function finalize(
  env: HelmEnvironment,
  object: KubeObject,
): Promise<void> {
  const status = statusOf(object);
  // Without the ServiceAccount to impersonate (its namespace being deleted, say) the
  // release is not uninstalled: "skipping Helm release uninstallation".
  if (
    !specOf(object).suspend &&
    canImpersonate(env.store, releaseAccount(env, object))
  ) {
    const removed = uninstall(env, object, status);
    if (removed) {
      helmEvent(
        env,
        object,
        'Normal',
        'UninstallSucceeded',
        `Helm uninstall succeeded for release ${removed.namespace}/${removed.name}.v${removed.version} with chart ${removed.chartName}@${removed.chartVersion}`,
      );
    }
  }
  if (status.helmChart) deleteHelmChart(env.store, status.helmChart);
  removeFinalizer(env.store, HELM_RELEASE_TYPE, object, HELM_CONTROLLER);
}

/** helm-controller's Reconcile for HelmRelease v2. */
export async function reconcileHelmRelease(
  env: HelmEnvironment,
  input: KubeObject,
): Promise<ReconcileOutcome> {
  if (input.metadata.deletionTimestamp) {
    await finalize(env, input);
    return {};
  }
  const object = ensureFinalizer(
    env.store,
    HELM_RELEASE_TYPE,
    input,
    HELM_CONTROLLER,
  );
  const session = new StatusSession<HelmReleaseStatus>(
    env.store,
    HELM_RELEASE_TYPE,
    object,
    {
      fieldManager: HELM_CONTROLLER,
      minimumDurationMs: () => env.faults.reconcileDurationMs(),
      signal: env.signal,
    },
  );
  if (isSuspended(object)) {
    await recordSuspended(session, 'whenReady');
    return {};
  }
  const spec = specOf(object);
  const intervalMs = durationOr(spec.interval, 10 * 60_000);
  let outcome: ReconcileOutcome;
  try {
    reconcileChartTemplate(env, object, session.status);
    session.conditions.markReconciling(PROGRESSING_REASON, '');
    outcome = await reconcileRelease(env, session, intervalMs);
  } catch (error) {
    env.signal.throwIfAborted();
    if (error instanceof ChartTemplateError) {
      session.recordReconcileRequest();
      await session.write();
      throw error;
    }
    if (!(error instanceof StepFailure)) throw error;
    if (error instanceof AccessDenied) {
      session.conditions.markStalled(error.reason, error.message);
      helmEvent(env, object, 'Warning', error.reason, error.message);
    }
    session.conditions.markFalse(READY, error.reason, error.message);
    outcome = error.outcome;
  }

  if (session.conditions.has(RECONCILING)) await session.holdMinimumDuration();
  session.recordReconcileRequest();
  if (session.conditions.isTrue(READY) || session.conditions.isTrue(STALLED)) {
    session.finishSucceeded();
  } else if (session.conditions.has(RECONCILING)) {
    const reconciling = session.conditions.get(RECONCILING)!;
    session.conditions.markReconciling(
      PROGRESSING_WITH_RETRY_REASON,
      reconciling.message,
    );
  }
  // helm-controller observes the generation whenever no error goes back to the runtime.
  if (!outcome.retryWithBackoff) session.observeGeneration();
  await session.write();
  if (session.isReady()) env.onReady(session.object);
  return outcome;
}

function annotationRequest(
  object: KubeObject,
  key: string,
  handled: string | undefined,
  requestedAt: string | undefined,
): string | undefined {
  const value = object.metadata.annotations?.[key];
  return value !== undefined && value === requestedAt && value !== handled
    ? value
    : undefined;
}

async function reconcileRelease(
  env: HelmEnvironment,
  session: StatusSession<HelmReleaseStatus>,
  intervalMs: number,
): Promise<ReconcileOutcome> {
  const object = session.object;
  const spec = specOf(object);
  const status = session.status;

  const dependencyError = checkDependencies(env.store, object);
  if (dependencyError) {
    helmEvent(env, object, 'Warning', 'DependencyNotReady', dependencyError);
    session.conditions.markFalse(READY, 'DependencyNotReady', dependencyError);
    return { requeueAfterMs: env.requeueDependencyMs };
  }

  const artifact = resolveChartArtifact(env, object, status, intervalMs);
  const values = composeValues(env, object);
  const chart = await loadChartArtifact(env, artifact);
  const chartVersion = chart.metadata.version;
  const configDigest = digestValues(values);
  const releaseName = releaseNameOf(object);
  const releaseNamespace =
    spec.targetNamespace || object.metadata.namespace || 'default';
  const storageNamespace =
    spec.storageNamespace || object.metadata.namespace || 'default';

  const forceAt = annotationRequest(
    object,
    FORCE_AT,
    status.lastHandledForceAt,
    session.requestedAt,
  );
  const resetAt = annotationRequest(
    object,
    RESET_AT,
    status.lastHandledResetAt,
    session.requestedAt,
  );
  if (forceAt) status.lastHandledForceAt = forceAt;
  const mustReset =
    resetAt !== undefined ||
    status.lastAttemptedRevision !== chartVersion ||
    status.lastAttemptedConfigDigest !== configDigest ||
    status.lastAttemptedGeneration !== session.generation;
  if (resetAt) status.lastHandledResetAt = resetAt;
  if (mustReset) {
    status.failures = 0;
    status.installFailures = 0;
    status.upgradeFailures = 0;
  }

  let history = status.history ?? [];
  let latest: ReleaseSnapshot | undefined = history[0];
  if (
    latest &&
    (latest.name !== releaseName || latest.namespace !== releaseNamespace)
  ) {
    // The release target changed: uninstall the old release before installing the new one.
    uninstall(env, object, status);
    status.inventory = { entries: [] };
    history = [];
    latest = undefined;
  }
  status.storageNamespace = storageNamespace;

  const everDeployed = history.some(
    s => s.status === 'deployed' || s.status === 'superseded',
  );
  let action: 'install' | 'upgrade' | undefined;
  if (!latest || !everDeployed) action = 'install';
  else if (
    latest.status !== 'deployed' ||
    latest.chartName !== chart.metadata.name ||
    latest.chartVersion !== chartVersion ||
    latest.configDigest !== configDigest ||
    forceAt !== undefined
  ) {
    action = 'upgrade';
  }

  if (!action) {
    // In sync: nothing to release; Ready reflects the last release.
    if (!session.conditions.isTrue(READY)) {
      const released = session.conditions.get(RELEASED);
      session.conditions.markTrue(
        READY,
        released?.reason ?? 'UpgradeSucceeded',
        released?.message ??
          `Helm release ${releaseNamespace}/${releaseName}.v${
            latest!.version
          } is in sync`,
      );
    }
    session.conditions.delete(STALLED);
    return { requeueAfterMs: intervalMs };
  }

  const retries =
    (action === 'install'
      ? spec.install?.remediation?.retries
      : spec.upgrade?.remediation?.retries) ?? 0;
  const failed =
    (action === 'install' ? status.installFailures : status.upgradeFailures) ??
    0;
  if (failed > retries && forceAt === undefined) {
    session.conditions.markStalled(
      'RetriesExceeded',
      `Failed to ${action} after ${failed} attempt(s)`,
    );
    session.conditions.delete(RECONCILING);
    return { requeueAfterMs: intervalMs };
  }

  return runAction(env, session, {
    action,
    artifact,
    chart,
    values,
    configDigest,
    releaseName,
    releaseNamespace,
    storageNamespace,
    history,
    intervalMs,
    retries,
  });
}

interface ActionInput {
  action: 'install' | 'upgrade';
  artifact: Artifact;
  chart: LoadedChart;
  values: Record<string, unknown>;
  configDigest: string;
  releaseName: string;
  releaseNamespace: string;
  storageNamespace: string;
  history: ReleaseSnapshot[];
  intervalMs: number;
  retries: number;
}

function capitalized(action: string): string {
  return action[0].toUpperCase() + action.slice(1);
}

async function runAction(
  env: HelmEnvironment,
  session: StatusSession<HelmReleaseStatus>,
  input: ActionInput,
): Promise<ReconcileOutcome> {
  const object = session.object;
  const spec = specOf(object);
  const status = session.status;
  const { action, chart, releaseName, releaseNamespace, storageNamespace } =
    input;
  const chartRef = `${chart.metadata.name}@${chart.metadata.version}`;
  const timeoutMs = durationOr(spec.timeout, DEFAULT_TIMEOUT_MS);
  const version = Math.max(0, ...input.history.map(s => s.version)) + 1;

  status.lastAttemptedGeneration = session.generation;
  status.lastAttemptedRevision = chart.metadata.version;
  status.lastAttemptedRevisionDigest = input.artifact.digest;
  status.lastAttemptedConfigDigest = input.configDigest;
  status.lastAttemptedReleaseAction = action;
  const running = `Running '${action}' action with timeout of ${formatGoDuration(
    timeoutMs,
  )}`;
  session.conditions.markReconciling(PROGRESSING_REASON, running);
  session.conditions.markUnknown(READY, PROGRESSING_REASON, running);
  await session.write();

  const started = performance.now();
  const now = kubeTime();
  const previousEntries = status.inventory?.entries ?? [];
  const client = releaseClient(env, object);
  let manifest = '';
  let error: Error | undefined;
  let entries: InventoryEntry[] = previousEntries;
  try {
    const rendered = renderChart(chart, {
      Release: {
        Name: releaseName,
        Namespace: releaseNamespace,
        Service: 'Helm',
        Revision: version,
        IsInstall: action === 'install',
        IsUpgrade: action === 'upgrade',
      },
      Chart: {
        Name: chart.metadata.name,
        Version: chart.metadata.version,
        AppVersion: chart.metadata.appVersion,
      },
      Values: mergeValues(chart.values, input.values),
    });
    manifest = rendered
      .map(r => `---\n# Source: ${r.source}\n${r.text.trim()}\n`)
      .join('');
    const objects = labelObjects(
      rendered
        .flatMap(r => r.objects)
        .map(o =>
          withReleaseMetadata(client, o, releaseName, releaseNamespace),
        ),
      {
        [`${HELM_GROUP}/name`]: object.metadata.name,
        [`${HELM_GROUP}/namespace`]: object.metadata.namespace ?? 'default',
      },
    );
    if (action === 'install' && spec.install?.createNamespace)
      ensureNamespace(client, releaseNamespace);
    const changeSet = applyAll(client, objects, {
      fieldManager: HELM_CONTROLLER,
      ownerGroup: HELM_GROUP,
      injectedFailure: env.faults.applyFailure(
        object.metadata.namespace,
        object.metadata.name,
      ),
    });
    entries = changeSet.filter(e => e.action !== 'skipped').map(e => e.entry);
    deleteAll(client, staleEntries(previousEntries, entries, new Set()), {
      group: HELM_GROUP,
      name: object.metadata.name,
      namespace: object.metadata.namespace ?? 'default',
    });
    const disableWait =
      action === 'install'
        ? spec.install?.disableWait
        : spec.upgrade?.disableWait;
    if (!disableWait) {
      await waitForSet(
        env.store,
        entries.map(entry => {
          const o = parseInventoryEntry(entry);
          return {
            apiVersion: o.group ? `${o.group}/${o.version}` : o.version,
            kind: o.kind,
            name: o.name,
            namespace: o.namespace || undefined,
          };
        }),
        {
          timeoutMs,
          pollIntervalMs: env.healthCheckIntervalMs,
          signal: env.signal,
        },
      );
    }
  } catch (caught) {
    env.signal.throwIfAborted();
    if (!(caught instanceof Error)) throw caught;
    error = caught;
  }
  status.inventory = { entries };
  status.lastAttemptedReleaseActionDuration = formatGoDuration(
    performance.now() - started,
  );

  const record: HelmReleaseRecord = {
    name: releaseName,
    namespace: releaseNamespace,
    version,
    status: error ? 'failed' : 'deployed',
    description: error
      ? `Release "${releaseName}" failed: ${error.message}`
      : `${capitalized(action)} complete`,
    firstDeployed:
      input.history.find(s => s.version === 1)?.firstDeployed ?? now,
    lastDeployed: now,
    chart,
    config: input.values,
    manifest,
  };
  storeRelease(client, storageNamespace, record);
  const snapshot: ReleaseSnapshot = {
    name: releaseName,
    namespace: releaseNamespace,
    version,
    status: record.status,
    chartName: chart.metadata.name,
    chartVersion: chart.metadata.version,
    ...(chart.metadata.appVersion
      ? { appVersion: String(chart.metadata.appVersion) }
      : {}),
    configDigest: input.configDigest,
    digest: releaseDigest(record),
    firstDeployed: now,
    lastDeployed: now,
    action,
  };
  const previous = input.history.map(s => {
    if (error || s.status !== 'deployed') return s;
    markRelease(client, storageNamespace, s.name, s.version, 'superseded');
    return { ...s, status: 'superseded' };
  });
  status.history = [snapshot, ...previous].slice(
    0,
    spec.maxHistory || DEFAULT_MAX_HISTORY,
  );

  const metadata = {
    revision: chart.metadata.version,
    token: input.configDigest,
  };
  if (error) {
    const reason = `${capitalized(action)}Failed`;
    const message = `Helm ${action} failed for release ${releaseNamespace}/${releaseName} with chart ${chartRef}: ${error.message}`;
    status.failures = (status.failures ?? 0) + 1;
    if (action === 'install')
      status.installFailures = (status.installFailures ?? 0) + 1;
    else status.upgradeFailures = (status.upgradeFailures ?? 0) + 1;
    session.conditions.markFalse(RELEASED, reason, message);
    session.conditions.markFalse(READY, reason, message);
    helmEvent(env, object, 'Warning', reason, message, metadata);
    const failures =
      (action === 'install'
        ? status.installFailures
        : status.upgradeFailures) ?? 0;
    if (failures > input.retries) {
      session.conditions.markStalled(
        'RetriesExceeded',
        `Failed to ${action} after ${failures} attempt(s)`,
      );
      session.conditions.delete(RECONCILING);
      return { requeueAfterMs: input.intervalMs };
    }
    return { retryWithBackoff: true };
  }
  const reason = `${capitalized(action)}Succeeded`;
  const message = `Helm ${action} succeeded for release ${releaseNamespace}/${releaseName}.v${version} with chart ${chartRef}`;
  session.conditions.markTrue(RELEASED, reason, message);
  session.conditions.markTrue(READY, reason, message);
  session.conditions.delete(STALLED);
  helmEvent(env, object, 'Normal', reason, message, metadata);
  return { requeueAfterMs: input.intervalMs };
}

/** What Helm adds to every object it installs, plus the release namespace as default namespace. */
function withReleaseMetadata(
  store: ClusterStore,
  original: KubeObject,
  releaseName: string,
  releaseNamespace: string,
): KubeObject {
  const object = structuredClone(original);
  const type = store.findType(object);
  if (type?.namespaced && !object.metadata.namespace)
    object.metadata.namespace = releaseNamespace;
  object.metadata.labels = {
    ...object.metadata.labels,
    'app.kubernetes.io/managed-by': 'Helm',
  };
  object.metadata.annotations = {
    ...object.metadata.annotations,
    'meta.helm.sh/release-name': releaseName,
    'meta.helm.sh/release-namespace': releaseNamespace,
  };
  return object;
}

function ensureNamespace(store: ClusterStore, name: string): void {
  const type = { apiVersion: 'v1', kind: 'Namespace' };
  if (!store.get(type, undefined, name))
    store.create({ ...type, metadata: { name } });
}
