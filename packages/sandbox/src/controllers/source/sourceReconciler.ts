import type { ClusterStore, KubeObject, TypeRef } from '../../kube/types';
import type { ArtifactStorage, Artifact } from '../artifacts';
import {
  PROGRESSING_REASON,
  READY,
  RECONCILING,
  STALLED,
  SUCCEEDED_REASON,
  type Condition,
} from '../conditions';
import { durationOr } from '../duration';
import { recordEvent } from '../events';
import type { FluxFaults } from '../faults';
import type { ReconcileOutcome } from '../runtime';
import {
  StatusSession,
  ensureFinalizer,
  isSuspended,
  recordSuspended,
  removeFinalizer,
  type FluxStatus,
} from '../status';

export const SOURCE_CONTROLLER = 'source-controller';
export const SOURCE_GROUP = 'source.toolkit.fluxcd.io';

export const FETCH_FAILED = 'FetchFailed';
export const STORAGE_OPERATION_FAILED = 'StorageOperationFailed';
export const BUILD_FAILED = 'BuildFailed';
export const ARTIFACT_OUTDATED = 'ArtifactOutdated';
export const ARTIFACT_IN_STORAGE = 'ArtifactInStorage';

/** Negative-polarity conditions, in the priority the Ready summary takes them. */
const FAILURE_CONDITIONS = [
  STORAGE_OPERATION_FAILED,
  FETCH_FAILED,
  BUILD_FAILED,
];

export type SourceStatus = FluxStatus & {
  artifact?: Artifact;
  observedIgnore?: string;
  url?: string;
};

/**
 * A failed step of a source reconciliation (source-controller's serror types): `generic`
 * errors are retried with backoff, `stalling` ones wait for a spec change, `waiting`
 * ones are retried after `requeueAfterMs`.
 */
export class SourceError extends Error {
  constructor(
    readonly condition: string,
    readonly reason: string,
    message: string,
    readonly kind: 'generic' | 'stalling' | 'waiting' = 'generic',
    readonly requeueAfterMs?: number,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface SourceEnvironment {
  store: ClusterStore;
  storage: ArtifactStorage;
  faults: FluxFaults;
  /** Where caches and temporary checkouts live. */
  workDir: string;
  /** How long to wait for a missing dependency (Flux: `--requeue-dependency=30s`). */
  requeueDependencyMs: number;
  signal: AbortSignal;
}

export interface ProducedArtifact {
  artifact: Artifact;
  /** The message of `ArtifactInStorage` (and so of `Ready`). */
  storedMessage: string;
  /** The reason and message of the event announcing a new artifact. */
  event: { reason: string; message: string };
  /** Extra status fields observed with this artifact (e.g. `observedIgnore`). */
  observed?: Partial<SourceStatus>;
}

export interface SourceKindHandler {
  readonly type: TypeRef;
  /**
   * Fetches the upstream content and stores a new artifact, or returns the current one
   * when the upstream revision did not change. Throws SourceError on failure.
   */
  produce(
    session: StatusSession<SourceStatus>,
    helpers: ProduceHelpers,
  ): Promise<ProducedArtifact>;
  /** Cleanup besides the stored artifacts (caches) when the object is deleted. */
  cleanup?(
    env: SourceEnvironment,
    namespace: string,
    name: string,
  ): Promise<void>;
}

export interface ProduceHelpers {
  env: SourceEnvironment;
  /**
   * Reports a new upstream revision (`ArtifactOutdated`, `Reconciling` "building artifact:
   * new upstream revision …") before the artifact is built.
   */
  markNewRevision(message: string): Promise<void>;
}

function failureConditions(session: StatusSession<SourceStatus>): Condition[] {
  return FAILURE_CONDITIONS.map(type => session.conditions.get(type)).filter(
    (c): c is Condition => c?.status === 'True',
  );
}

/**
 * The reconciliation every source kind shares (source-controller's Reconcile, storage
 * checks, summarize helper and notify): finalizer, suspend, progressive status, the
 * kind's fetch, artifact bookkeeping, the Ready summary and the events.
 */
export async function reconcileSource(
  handler: SourceKindHandler,
  env: SourceEnvironment,
  input: KubeObject,
): Promise<ReconcileOutcome> {
  const { store, storage } = env;
  const { kind } = handler.type;
  const namespace = input.metadata.namespace ?? 'default';
  const name = input.metadata.name;

  if (input.metadata.deletionTimestamp) {
    await storage.removeAll(kind, namespace, name);
    await handler.cleanup?.(env, namespace, name);
    removeFinalizer(store, handler.type, input, SOURCE_CONTROLLER);
    return {};
  }
  const object = ensureFinalizer(store, handler.type, input, SOURCE_CONTROLLER);
  const session = new StatusSession<SourceStatus>(store, handler.type, object, {
    fieldManager: SOURCE_CONTROLLER,
    minimumDurationMs: () => env.faults.reconcileDurationMs(),
    signal: env.signal,
  });
  if (isSuspended(object)) {
    await recordSuspended(session, 'always');
    return {};
  }

  const intervalMs = durationOr(session.spec.interval, 10 * 60_000);
  const previousArtifact = session.status.artifact;
  const failedBefore = failureConditions(session).length > 0;

  session.conditions.progressive(
    false,
    PROGRESSING_REASON,
    'reconciliation in progress',
  );
  if (session.generation !== session.status.observedGeneration) {
    session.conditions.progressive(
      false,
      PROGRESSING_REASON,
      `processing object: new generation ${
        session.status.observedGeneration ?? -1
      } -> ${session.generation}`,
    );
    await session.write();
  } else if (session.requestedAt !== session.status.lastHandledReconcileAt) {
    await session.write();
  }

  // The advertised artifact must still be in storage with its digest.
  if (previousArtifact && !(await storage.verify(previousArtifact))) {
    delete session.status.artifact;
  }
  if (!session.status.artifact) {
    session.conditions.progressive(
      true,
      PROGRESSING_REASON,
      previousArtifact
        ? 'building artifact: disappeared from storage'
        : 'building artifact',
    );
    session.conditions.delete(ARTIFACT_IN_STORAGE);
    await session.write();
  }

  const helpers: ProduceHelpers = {
    env,
    async markNewRevision(message) {
      if (session.status.artifact) {
        session.conditions.markTrue(ARTIFACT_OUTDATED, 'NewRevision', message);
      }
      session.conditions.progressive(
        true,
        PROGRESSING_REASON,
        `building artifact: ${message}`,
      );
      await session.write();
    },
  };

  let produced: ProducedArtifact;
  try {
    produced = await handler.produce(session, helpers);
  } catch (error) {
    env.signal.throwIfAborted();
    return failed(session, env, error, intervalMs);
  }

  for (const type of FAILURE_CONDITIONS) session.conditions.delete(type);
  session.conditions.delete(ARTIFACT_OUTDATED);
  session.status = {
    ...session.status,
    ...produced.observed,
    artifact: produced.artifact,
  };
  for (const [key, value] of Object.entries(session.status)) {
    if (value === undefined) delete session.status[key];
  }
  session.conditions.markTrue(
    ARTIFACT_IN_STORAGE,
    SUCCEEDED_REASON,
    produced.storedMessage,
  );
  await storage.garbageCollect(produced.artifact);

  await session.holdMinimumDuration();
  session.conditions.delete(STALLED);
  session.conditions.markTrue(READY, SUCCEEDED_REASON, produced.storedMessage);
  session.finishSucceeded();
  session.recordReconcileRequest();
  await session.write();

  const annotations = {
    revision: produced.artifact.revision,
    digest: produced.artifact.digest,
  };
  if (previousArtifact?.digest !== produced.artifact.digest) {
    recordEvent(store, session.object, {
      type: 'Normal',
      reason: produced.event.reason,
      message: produced.event.message,
      metadata: annotations,
      reportingController: SOURCE_CONTROLLER,
    });
  } else if (failedBefore) {
    recordEvent(store, session.object, {
      type: 'Normal',
      reason: SUCCEEDED_REASON,
      message: produced.event.message,
      metadata: annotations,
      reportingController: SOURCE_CONTROLLER,
    });
  }
  return { requeueAfterMs: intervalMs };
}

async function failed(
  session: StatusSession<SourceStatus>,
  env: SourceEnvironment,
  error: unknown,
  intervalMs: number,
): Promise<ReconcileOutcome> {
  const sourceError =
    error instanceof SourceError
      ? error
      : new SourceError(
          STORAGE_OPERATION_FAILED,
          'ArchiveOperationFailed',
          error instanceof Error ? error.message : String(error),
        );
  session.conditions.markTrue(
    sourceError.condition,
    sourceError.reason,
    sourceError.message,
  );
  await session.holdMinimumDuration();
  if (sourceError.kind === 'stalling') {
    session.conditions.markStalled(sourceError.reason, sourceError.message);
    session.conditions.delete(RECONCILING);
    session.observeGeneration();
  } else {
    session.conditions.delete(STALLED);
  }
  // The Ready summary takes the highest-priority failure (source-controller's SetSummary).
  const failure = failureConditions(session)[0];
  if (failure) {
    session.conditions.markFalse(READY, failure.reason, failure.message);
  } else {
    session.conditions.markFalse(
      READY,
      sourceError.reason,
      sourceError.message,
    );
  }
  session.recordReconcileRequest();
  await session.write();
  recordEvent(env.store, session.object, {
    type: sourceError.kind === 'waiting' ? 'Normal' : 'Warning',
    reason: sourceError.reason,
    message: sourceError.message,
    reportingController: SOURCE_CONTROLLER,
  });
  if (sourceError.kind === 'stalling') return {};
  if (sourceError.kind === 'waiting') {
    return { requeueAfterMs: sourceError.requeueAfterMs ?? intervalMs };
  }
  return { retryWithBackoff: true };
}

/** Reads a Secret's data, decoded (Flux reads `data`; the API folds `stringData` into it). */
export function readSecret(
  store: ClusterStore,
  namespace: string,
  name: string,
): Record<string, string> | undefined {
  const secret = store.get(
    { apiVersion: 'v1', kind: 'Secret' },
    namespace,
    name,
  );
  if (!secret) return undefined;
  const result: Record<string, string> = {};
  const data = (secret.data ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(data)) {
    result[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  const stringData = (secret.stringData ?? {}) as Record<string, string>;
  Object.assign(result, stringData);
  return result;
}

export function secretNotFound(namespace: string, name: string): string {
  return `failed to get secret '${namespace}/${name}': secrets "${name}" not found`;
}
