import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { ClusterStore, KubeObject, TypeRef } from '../../kube/types';
import { buildKustomization } from '../../kustomize';
import type { KustomizationOverrides } from '../../kustomize';
import {
  ArtifactNotFoundError,
  type Artifact,
  type ArtifactStorage,
} from '../artifacts';
import {
  HEALTHY,
  PROGRESSING_REASON,
  PROGRESSING_WITH_RETRY_REASON,
  READY,
  RECONCILING,
  SUCCEEDED_REASON,
  findCondition,
} from '../conditions';
import { durationOr, formatGoDuration } from '../duration';
import { recordEvent } from '../events';
import type { FluxFaults } from '../faults';
import type { ReconcileOutcome } from '../runtime';
import {
  canImpersonate,
  impersonatedAccount,
  kubeClientFor,
  type TenancyOptions,
} from '../tenancy';
import {
  StatusSession,
  ensureFinalizer,
  isSuspended,
  recordSuspended,
  removeFinalizer,
  type FluxStatus,
} from '../status';
import {
  ApplyError,
  applyAll,
  changeSetLog,
  deleteAll,
  labelObjects,
} from './apply';
import { HealthCheckError, waitForSet, type HealthTarget } from './health';
import { upsertHistory, type Snapshot } from './history';
import {
  formatObjectId,
  parseInventoryEntry,
  staleEntries,
  type InventoryEntry,
} from './inventory';

export const KUSTOMIZATION_TYPE = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
} as const;

export const KUSTOMIZE_CONTROLLER = 'kustomize-controller';
/** kustomize-controller patches its own objects as `gotk-<controller name>`. */
const STATUS_MANAGER = `gotk-${KUSTOMIZE_CONTROLLER}`;
const GROUP = 'kustomize.toolkit.fluxcd.io';
const ORIGIN_REVISION_ANNOTATION = 'org.opencontainers.image.revision';
const SOURCE_KINDS: Record<string, string> = {
  GitRepository: 'gitrepositories',
  OCIRepository: 'ocirepositories',
  Bucket: 'buckets',
};

export interface KustomizationSpec extends KustomizationOverrides {
  interval?: string;
  retryInterval?: string;
  timeout?: string;
  sourceRef?: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    namespace?: string;
  };
  path?: string;
  prune?: boolean;
  wait?: boolean;
  force?: boolean;
  targetNamespace?: string;
  healthChecks?: HealthTarget[];
  dependsOn?: Array<{ name: string; namespace?: string }>;
  commonMetadata?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  deletionPolicy?: 'MirrorPrune' | 'Delete' | 'WaitForTermination' | 'Orphan';
  suspend?: boolean;
  /** The account (in the Kustomization's namespace) the objects are applied as. */
  serviceAccountName?: string;
}

type KustomizationStatus = FluxStatus & {
  lastAppliedRevision?: string;
  lastAppliedOriginRevision?: string;
  lastAttemptedRevision?: string;
  inventory?: { entries: InventoryEntry[] };
  history?: Snapshot[];
};

export interface KustomizeEnvironment extends TenancyOptions {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  workDir: string;
  /** Flux's `--requeue-dependency` (30s). */
  requeueDependencyMs: number;
  /** How often health checks poll (Flux: 5s). */
  healthCheckIntervalMs: number;
  signal: AbortSignal;
  /** Called after a successful reconciliation, to wake up dependents. */
  onReady(object: KubeObject): void;
}

/** A step failed: Ready=False with this reason and message. */
class StepFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly requeueAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * fluxcd/pkg/runtime/acl AccessDeniedError: Ready=False and Stalled=True with reason
 * `AccessDenied`, an error event, and no retry (a terminal error) until the object changes.
 */
class AccessDenied extends StepFailure {
  constructor(message: string) {
    super('AccessDenied', message);
  }
}

/** The account the Kustomization's objects are applied as, if any. */
function accountOf(env: KustomizeEnvironment, object: KubeObject) {
  return impersonatedAccount(
    env,
    specOf(object).serviceAccountName,
    object.metadata.namespace ?? 'default',
  );
}

function specOf(object: KubeObject): KustomizationSpec {
  return (object.spec ?? {}) as KustomizationSpec;
}

function eventFor(
  env: KustomizeEnvironment,
  session: StatusSession<KustomizationStatus>,
  severity: 'info' | 'error',
  message: string,
  revisions: { revision?: string; originRevision?: string },
  metadata: Record<string, string> = {},
): void {
  const reason = session.conditions.get(READY)?.reason || severity;
  recordEvent(env.store, session.object, {
    type: severity === 'error' ? 'Warning' : 'Normal',
    reason,
    message,
    metadata: {
      ...metadata,
      ...(revisions.revision ? { revision: revisions.revision } : {}),
      ...(revisions.originRevision
        ? { originRevision: revisions.originRevision }
        : {}),
    },
    reportingController: KUSTOMIZE_CONTROLLER,
  });
}

function checkDependencies(
  store: ClusterStore,
  object: KubeObject,
  sourceArtifact: Artifact,
): string | undefined {
  const spec = specOf(object);
  const namespace = object.metadata.namespace ?? 'default';
  for (const dependency of spec.dependsOn ?? []) {
    const depNamespace = dependency.namespace || namespace;
    const depName = `${depNamespace}/${dependency.name}`;
    const dep = store.get(KUSTOMIZATION_TYPE, depNamespace, dependency.name);
    if (!dep) {
      return `dependency '${depName}' not found: kustomizations.kustomize.toolkit.fluxcd.io "${dependency.name}" not found`;
    }
    const status = (dep.status ?? {}) as KustomizationStatus;
    if (
      (status.conditions ?? []).length === 0 ||
      dep.metadata.generation !== status.observedGeneration ||
      findCondition(dep, READY)?.status !== 'True'
    ) {
      return `dependency '${depName}' is not ready`;
    }
    const depRef = specOf(dep).sourceRef;
    const ref = spec.sourceRef;
    if (
      depRef?.name === ref?.name &&
      (depRef?.namespace || depNamespace) === (ref?.namespace || namespace) &&
      depRef?.kind === ref?.kind &&
      status.lastAppliedRevision !== sourceArtifact.revision
    ) {
      return `dependency '${depName}' revision is not up to date`;
    }
  }
  return undefined;
}

function shouldDeleteOnFinalize(object: KubeObject): boolean {
  const spec = specOf(object);
  const entries =
    ((object.status ?? {}) as KustomizationStatus).inventory?.entries ?? [];
  if (spec.suspend || entries.length === 0) return false;
  switch (spec.deletionPolicy ?? 'MirrorPrune') {
    case 'MirrorPrune':
      return spec.prune === true;
    case 'Delete':
    case 'WaitForTermination':
      return true;
    default:
      return false;
  }
}

/** Deletion: garbage-collect the inventory per the deletion policy, then let the object go. */
async function finalize(
  env: KustomizeEnvironment,
  object: KubeObject,
): Promise<void> {
  const account = accountOf(env, object);
  if (shouldDeleteOnFinalize(object) && !canImpersonate(env.store, account)) {
    // The account to impersonate is gone: log the stale objects and let the object go.
    const entries =
      ((object.status ?? {}) as KustomizationStatus).inventory?.entries ?? [];
    recordEvent(env.store, object, {
      type: 'Warning',
      reason: findCondition(object, READY)?.reason ?? 'error',
      message: `unable to prune objects: \n${entries
        .map(entry => {
          const o = parseInventoryEntry(entry);
          return formatObjectId(o.kind, o.namespace || undefined, o.name);
        })
        .join('\n')}`,
      reportingController: KUSTOMIZE_CONTROLLER,
    });
  } else if (shouldDeleteOnFinalize(object)) {
    const status = (object.status ?? {}) as KustomizationStatus;
    const client = kubeClientFor(env.store, account);
    try {
      const changes = deleteAll(client, status.inventory?.entries ?? [], {
        group: GROUP,
        name: object.metadata.name,
        namespace: object.metadata.namespace ?? 'default',
      });
      const log = changeSetLog(changes);
      if (log) {
        recordEvent(env.store, object, {
          type: 'Normal',
          reason: findCondition(object, READY)?.reason ?? 'info',
          message: log,
          metadata: status.lastAppliedRevision
            ? { revision: status.lastAppliedRevision }
            : {},
          reportingController: KUSTOMIZE_CONTROLLER,
        });
      }
    } catch {
      recordEvent(env.store, object, {
        type: 'Warning',
        reason: findCondition(object, READY)?.reason ?? 'error',
        message: 'pruning for deleted resource failed',
        reportingController: KUSTOMIZE_CONTROLLER,
      });
      throw new Error('pruning for deleted resource failed');
    }
  }
  removeFinalizer(env.store, KUSTOMIZATION_TYPE, object, STATUS_MANAGER);
}

/** kustomize-controller's Reconcile. */
export async function reconcileKustomization(
  env: KustomizeEnvironment,
  input: KubeObject,
): Promise<ReconcileOutcome> {
  if (input.metadata.deletionTimestamp) {
    await finalize(env, input);
    return {};
  }
  const object = ensureFinalizer(
    env.store,
    KUSTOMIZATION_TYPE,
    input,
    STATUS_MANAGER,
  );
  const session = new StatusSession<KustomizationStatus>(
    env.store,
    KUSTOMIZATION_TYPE,
    object,
    {
      fieldManager: STATUS_MANAGER,
      minimumDurationMs: () => env.faults.reconcileDurationMs(),
      signal: env.signal,
    },
  );
  if (isSuspended(object)) {
    await recordSuspended(session, 'whenReady');
    return {};
  }

  const reconcileStart = performance.now();
  const spec = specOf(object);
  const intervalMs = durationOr(spec.interval, 10 * 60_000);
  const retryMs = durationOr(spec.retryInterval, intervalMs);
  let outcome: ReconcileOutcome;
  let revisions: { revision?: string; originRevision?: string } = {};
  try {
    const source = resolveSource(env, object, retryMs);
    const artifact = (source.status as { artifact?: Artifact } | undefined)
      ?.artifact;
    if (!artifact) {
      throw new StepFailure(
        'ArtifactFailed',
        `Source artifact not found, retrying in ${formatGoDuration(
          env.requeueDependencyMs,
        )}`,
        env.requeueDependencyMs,
      );
    }
    revisions = {
      revision: artifact.revision,
      originRevision: artifact.metadata?.[ORIGIN_REVISION_ANNOTATION],
    };
    const dependencyError = checkDependencies(env.store, object, artifact);
    if (dependencyError) {
      session.conditions.markFalse(
        READY,
        'DependencyNotReady',
        dependencyError,
      );
      eventFor(
        env,
        session,
        'info',
        `Dependencies do not meet ready condition, retrying in ${formatGoDuration(
          env.requeueDependencyMs,
        )}`,
        revisions,
      );
      outcome = { requeueAfterMs: env.requeueDependencyMs };
    } else {
      await reconcileRevision(env, session, artifact, intervalMs);
      outcome = { requeueAfterMs: intervalMs };
    }
  } catch (error) {
    env.signal.throwIfAborted();
    if (!(error instanceof StepFailure)) throw error;
    session.conditions.markFalse(READY, error.reason, error.message);
    if (error instanceof AccessDenied) {
      session.conditions.markStalled(error.reason, error.message);
      eventFor(env, session, 'error', error.message, revisions);
      outcome = {};
    } else if (error.requeueAfterMs !== undefined) {
      outcome = { requeueAfterMs: error.requeueAfterMs };
    } else {
      eventFor(env, session, 'error', error.message, revisions);
      outcome = { requeueAfterMs: retryMs };
    }
  }

  // finalizeStatus
  if (session.conditions.has(RECONCILING)) await session.holdMinimumDuration();
  session.recordReconcileRequest();
  if (session.conditions.isTrue(READY)) {
    session.finishSucceeded();
  } else if (
    session.conditions.isFalse(READY) &&
    session.conditions.has(RECONCILING)
  ) {
    const reconciling = session.conditions.get(RECONCILING)!;
    session.conditions.markReconciling(
      PROGRESSING_WITH_RETRY_REASON,
      reconciling.message,
    );
  }
  await session.write();

  if (session.isReady()) {
    eventFor(
      env,
      session,
      'info',
      `Reconciliation finished in ${formatGoDuration(
        performance.now() - reconcileStart,
      )}, next run in ${formatGoDuration(intervalMs)}`,
      {
        revision: session.status.lastAppliedRevision,
        originRevision: session.status.lastAppliedOriginRevision,
      },
      { commit_status: 'update' },
    );
    env.onReady(session.object);
  }
  return outcome;
}

function resolveSource(
  env: KustomizeEnvironment,
  object: KubeObject,
  retryMs: number,
): KubeObject {
  const { store } = env;
  const ref = specOf(object).sourceRef;
  const sourceNamespace = ref?.namespace || object.metadata.namespace;
  if (
    env.noCrossNamespaceRefs &&
    sourceNamespace !== object.metadata.namespace
  ) {
    throw new AccessDenied(
      `can't access '${ref?.kind}/${sourceNamespace}/${ref?.name}', cross-namespace references have been blocked`,
    );
  }
  const plural = SOURCE_KINDS[ref?.kind ?? ''];
  if (!plural) {
    throw new StepFailure(
      'ArtifactFailed',
      `source \`${ref?.name}\` kind '${ref?.kind}' not supported`,
    );
  }
  const type: TypeRef = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: ref!.kind!,
  };
  const source = store.findType(type)
    ? store.get(type, sourceNamespace, ref?.name ?? '')
    : undefined;
  if (!source) {
    throw new StepFailure(
      'ArtifactFailed',
      `${plural}.source.toolkit.fluxcd.io "${ref?.name}" not found`,
      retryMs,
    );
  }
  return source;
}

function manifestsDigest(objects: readonly KubeObject[]): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(objects))
    .digest('hex')}`;
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    s => s.isDirectory(),
    () => false,
  );
}

/** kustomize-controller's reconcile(): fetch, build, apply, prune, health-check one revision. */
async function reconcileRevision(
  env: KustomizeEnvironment,
  session: StatusSession<KustomizationStatus>,
  artifact: Artifact,
  intervalMs: number,
): Promise<void> {
  const reconcileStart = performance.now();
  const spec = specOf(session.object);
  const namespace = session.namespace ?? 'default';
  const revision = artifact.revision;
  const originRevision = artifact.metadata?.[ORIGIN_REVISION_ANNOTATION];
  const revisions = { revision, originRevision };
  const timeoutMs = durationOr(spec.timeout, intervalMs);
  const timeout = formatGoDuration(timeoutMs);

  session.conditions.markUnknown(
    READY,
    PROGRESSING_REASON,
    'Reconciliation in progress',
  );
  session.conditions.markReconciling(
    PROGRESSING_REASON,
    `Fetching manifests for revision ${revision} with a timeout of ${timeout}`,
  );
  await session.write();

  const previousEntries = session.status.inventory?.entries ?? [];
  await mkdir(join(env.workDir, 'tmp'), { recursive: true });
  const tmpDir = await mkdtemp(join(env.workDir, 'tmp', 'kustomization-'));
  try {
    try {
      await env.storage.extract(artifact, tmpDir);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) {
        throw new StepFailure(
          'ArtifactFailed',
          `Source is not ready, artifact not found, retrying in ${formatGoDuration(
            env.requeueDependencyMs,
          )}`,
          env.requeueDependencyMs,
        );
      }
      throw new StepFailure('ArtifactFailed', (error as Error).message);
    }
    const path = spec.path ?? '';
    const dirPath = resolve(tmpDir, path.replace(/^\/+/, '') || '.');
    if (
      !(dirPath === tmpDir || dirPath.startsWith(tmpDir + sep)) ||
      !(await pathExists(dirPath))
    ) {
      throw new StepFailure(
        'ArtifactFailed',
        `kustomization path not found: stat ${dirPath}: no such file or directory`,
      );
    }

    session.status.lastAttemptedRevision = revision;
    session.conditions.markReconciling(
      PROGRESSING_REASON,
      `Building manifests for revision ${revision} with a timeout of ${timeout}`,
    );
    await session.write();

    // Applied, pruned and health-checked as the impersonated account, if any.
    const client = kubeClientFor(env.store, accountOf(env, session.object));

    let built: KubeObject[];
    try {
      built = await buildKustomization(tmpDir, path, {
        namespace: spec.targetNamespace,
        namePrefix: spec.namePrefix,
        nameSuffix: spec.nameSuffix,
        patches: spec.patches,
        images: spec.images,
        components: spec.components,
      });
    } catch (error) {
      throw new StepFailure(
        'BuildFailed',
        `kustomize build failed: ${(error as Error).message}`,
      );
    }
    const digest = manifestsDigest(built);
    const historyMeta: Record<string, string> = { revision };
    if (originRevision) historyMeta.originRevision = originRevision;
    const recordRun = (status: string) => {
      session.status.history = upsertHistory(session.status.history, {
        digest,
        durationMs: performance.now() - reconcileStart,
        status,
        metadata: historyMeta,
      });
    };
    const objects = labelObjects(
      built,
      { [`${GROUP}/name`]: session.name, [`${GROUP}/namespace`]: namespace },
      spec.commonMetadata,
    );

    session.conditions.markReconciling(
      PROGRESSING_REASON,
      `Detecting drift for revision ${revision} with a timeout of ${timeout}`,
    );
    await session.write();

    let changeSet;
    try {
      changeSet = applyAll(client, objects, {
        fieldManager: KUSTOMIZE_CONTROLLER,
        ownerGroup: GROUP,
        force: spec.force,
        injectedFailure: env.faults.applyFailure(namespace, session.name),
      });
    } catch (error) {
      if (!(error instanceof ApplyError)) throw error;
      recordRun('ReconciliationFailed');
      const log = changeSetLog(error.changeSet);
      throw new StepFailure(
        'ReconciliationFailed',
        log ? `${error.message}\n${log}` : error.message,
      );
    }
    const applyLog = changeSetLog(changeSet);
    if (applyLog) eventFor(env, session, 'info', applyLog, revisions);

    const applied = changeSet.filter(e => e.action !== 'skipped');
    const skippedIds = new Set(
      changeSet.filter(e => e.action === 'skipped').map(e => e.entry.id),
    );
    const entries = applied.map(e => e.entry);
    session.status.inventory = { entries };

    if (spec.prune) {
      const stale = staleEntries(previousEntries, entries, skippedIds);
      try {
        const pruned = deleteAll(client, stale, {
          group: GROUP,
          name: session.name,
          namespace,
        });
        const pruneLog = changeSetLog(pruned);
        if (pruneLog) eventFor(env, session, 'info', pruneLog, revisions);
      } catch (error) {
        recordRun('PruneFailed');
        throw new StepFailure('PruneFailed', (error as Error).message);
      }
    }

    try {
      await checkHealth(
        env,
        session,
        spec,
        entries,
        revision,
        timeoutMs,
        revisions,
        applyLog !== '',
      );
    } catch (error) {
      if (!(error instanceof HealthCheckError)) throw error;
      recordRun('HealthCheckFailed');
      throw new StepFailure('HealthCheckFailed', error.message);
    }

    session.status.lastAppliedRevision = revision;
    if (originRevision) {
      session.status.lastAppliedOriginRevision = originRevision;
    } else {
      delete session.status.lastAppliedOriginRevision;
    }
    session.conditions.markTrue(
      READY,
      'ReconciliationSucceeded',
      `Applied revision: ${revision}`,
    );
    recordRun('ReconciliationSucceeded');
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

async function checkHealth(
  env: KustomizeEnvironment,
  session: StatusSession<KustomizationStatus>,
  spec: KustomizationSpec,
  applied: readonly InventoryEntry[],
  revision: string,
  timeoutMs: number,
  revisions: { revision?: string; originRevision?: string },
  drifted: boolean,
): Promise<void> {
  let targets: HealthTarget[];
  if (spec.wait) {
    targets = applied.map(entry => {
      const o = parseInventoryEntry(entry);
      return {
        apiVersion: o.group ? `${o.group}/${o.version}` : o.version,
        kind: o.kind,
        name: o.name,
        namespace: o.namespace || undefined,
      };
    });
  } else {
    targets = (spec.healthChecks ?? []).map(check => ({
      ...check,
      namespace: check.namespace,
    }));
  }
  targets = targets.filter(
    t =>
      !(
        t.kind === 'Kustomization' &&
        t.name === session.name &&
        t.namespace === session.namespace
      ),
  );
  if (targets.length === 0) {
    session.conditions.delete(HEALTHY);
    return;
  }
  const wasHealthy = session.conditions.isTrue(HEALTHY);
  const isNewRevision = session.status.lastAppliedRevision !== revision;
  const message = `Running health checks for revision ${revision} with a timeout of ${formatGoDuration(
    timeoutMs,
  )}`;
  session.conditions.markReconciling(PROGRESSING_REASON, message);
  session.conditions.markUnknown(HEALTHY, PROGRESSING_REASON, message);
  await session.write();

  const checkStart = performance.now();
  try {
    await waitForSet(env.store, targets, {
      timeoutMs,
      pollIntervalMs: env.healthCheckIntervalMs,
      signal: env.signal,
    });
  } catch (error) {
    if (!(error instanceof HealthCheckError)) throw error;
    session.conditions.markFalse(READY, 'HealthCheckFailed', error.message);
    session.conditions.markFalse(HEALTHY, 'HealthCheckFailed', error.message);
    throw new HealthCheckError(
      `health check failed after ${formatGoDuration(
        performance.now() - checkStart,
      )}: ${error.message}`,
    );
  }
  const passed = `Health check passed in ${formatGoDuration(
    performance.now() - checkStart,
  )}`;
  if (!wasHealthy || (isNewRevision && drifted))
    eventFor(env, session, 'info', passed, revisions);
  session.conditions.markTrue(HEALTHY, SUCCEEDED_REASON, passed);
  await session.write();
}
