import type { ClusterStore, KubeObject } from '../../kube/types';
import { StoreError } from '../../kube/types';
import {
  formatObject,
  formatObjectId,
  inventoryEntry,
  parseInventoryEntry,
  typeRefOf,
  type InventoryEntry,
} from './inventory';

export type ChangeAction =
  | 'created'
  | 'configured'
  | 'unchanged'
  | 'deleted'
  | 'skipped';

export interface ChangeSetEntry {
  subject: string;
  action: ChangeAction;
  entry: InventoryEntry;
}

/** The `Kind/ns/name action` lines Flux puts in events and logs, for changed objects only. */
export function changeSetLog(entries: readonly ChangeSetEntry[]): string {
  return entries
    .filter(
      e =>
        e.action === 'created' ||
        e.action === 'configured' ||
        e.action === 'deleted',
    )
    .map(e => `${e.subject} ${e.action}`)
    .join('\n');
}

export class ApplyError extends Error {
  constructor(message: string, readonly changeSet: ChangeSetEntry[]) {
    super(message);
    this.name = 'ApplyError';
  }
}

export interface ApplyOptions {
  /** The server-side apply field manager (`kustomize-controller`, `helm-controller`). */
  fieldManager: string;
  /** The API group of the owner, for the `<group>/reconcile|ssa` annotations. */
  ownerGroup: string;
  /** Recreate objects whose immutable fields changed (`spec.force`). */
  force?: boolean;
  /** A failure injected by the sandbox's faults, reported like an API error. */
  injectedFailure?: string;
}

const CLUSTER_DEFINITIONS = new Set([
  'CustomResourceDefinition',
  'Namespace',
  'ClusterRole',
]);

/** fluxcd/pkg/ssa ApplyAllStaged: cluster definitions (CRDs, Namespaces, ClusterRoles), then class definitions, then the rest. */
function stageOf(object: KubeObject): number {
  if (CLUSTER_DEFINITIONS.has(object.kind)) return 0;
  if (object.kind.endsWith('Class')) return 1;
  return 2;
}

function annotation(
  object: KubeObject | undefined,
  key: string,
): string | undefined {
  return object?.metadata.annotations?.[key];
}

function dryRunFailed(object: KubeObject, error: unknown): string {
  if (error instanceof StoreError) {
    return `${formatObject(object)} dry-run failed (${error.reason}): ${
      error.message
    }`;
  }
  return `${formatObject(object)} dry-run failed: ${
    error instanceof Error ? error.message : String(error)
  }`;
}

interface PlannedApply {
  object: KubeObject;
  existing: KubeObject | undefined;
  subject: string;
}

/**
 * One stage of fluxcd/pkg/ssa ApplyAll: every object is first applied with `dryRun=All`
 * (which the API server authorizes exactly as the real write), and only when all of them
 * pass are they applied. A refused or invalid object therefore fails the stage before any
 * of its objects is written.
 */
function applyStage(
  store: ClusterStore,
  manifests: readonly KubeObject[],
  options: ApplyOptions,
  changeSet: ChangeSetEntry[],
): void {
  const planned: PlannedApply[] = [];
  const applyOptions = { fieldManager: options.fieldManager, force: true };
  for (const manifest of manifests) {
    const type = store.findType(manifest);
    if (!type) {
      throw new ApplyError(
        `${formatObject(manifest)} dry-run failed: no matches for kind "${
          manifest.kind
        }" in version "${manifest.apiVersion}"`,
        changeSet,
      );
    }
    const object = structuredClone(manifest);
    if (type.namespaced && !object.metadata.namespace) {
      throw new ApplyError(
        `${formatObject(object)} namespace not specified`,
        changeSet,
      );
    }
    if (!type.namespaced) delete object.metadata.namespace;
    const subject = formatObject(object);
    const existing = store.get(
      object,
      object.metadata.namespace,
      object.metadata.name,
    );
    const reconcileKey = `${options.ownerGroup}/reconcile`;
    const ssaKey = `${options.ownerGroup}/ssa`;
    if (
      annotation(object, reconcileKey) === 'disabled' ||
      annotation(existing, reconcileKey) === 'disabled' ||
      annotation(object, ssaKey) === 'Ignore' ||
      (existing && annotation(object, ssaKey) === 'IfNotPresent')
    ) {
      changeSet.push({
        subject,
        action: 'skipped',
        entry: inventoryEntry(object),
      });
      continue;
    }
    try {
      store.apply(object, { ...applyOptions, dryRun: true });
    } catch (error) {
      const immutable =
        error instanceof StoreError && /immutable/i.test(error.message);
      if (!(options.force && existing && immutable)) {
        throw new ApplyError(dryRunFailed(object, error), changeSet);
      }
      // `spec.force`: recreate the object whose immutable fields changed.
      try {
        store.delete(object, object.metadata.namespace, object.metadata.name);
        store.apply(object, { ...applyOptions, dryRun: true });
      } catch (retryError) {
        throw new ApplyError(dryRunFailed(object, retryError), changeSet);
      }
    }
    planned.push({ object, existing, subject });
  }

  for (const { object, existing, subject } of planned) {
    let applied: KubeObject;
    try {
      applied = store.apply(object, applyOptions);
    } catch (error) {
      throw new ApplyError(
        `${subject} apply failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        changeSet,
      );
    }
    let action: ChangeAction = 'created';
    if (existing) {
      action =
        applied.metadata.resourceVersion === existing.metadata.resourceVersion
          ? 'unchanged'
          : 'configured';
    }
    changeSet.push({ subject, action, entry: inventoryEntry(applied) });
  }
}

/**
 * Server-side applies objects in Flux's stages, with force ownership, and reports what
 * changed. Throws ApplyError (carrying the change set of the stages applied before) on
 * the first failure. `store` is the client to write with: the controller's own, or one
 * impersonating a service account.
 */
export function applyAll(
  store: ClusterStore,
  objects: readonly KubeObject[],
  options: ApplyOptions,
): ChangeSetEntry[] {
  const changeSet: ChangeSetEntry[] = [];
  const staged = objects
    .map((object, index) => ({ object, index }))
    .sort((a, b) => stageOf(a.object) - stageOf(b.object) || a.index - b.index)
    .map(({ object }) => object);

  if (options.injectedFailure !== undefined && staged.length > 0) {
    throw new ApplyError(
      `${formatObject(staged[0])} dry-run failed: ${options.injectedFailure}`,
      changeSet,
    );
  }

  for (const stage of [0, 1, 2]) {
    const manifests = staged.filter(object => stageOf(object) === stage);
    if (manifests.length > 0) applyStage(store, manifests, options, changeSet);
  }
  return changeSet;
}

/**
 * Deletes stale inventory objects (fluxcd/pkg/ssa DeleteAll): only those still labelled
 * as owned by `owner`, never those annotated `<group>/prune: disabled`.
 */
export function deleteAll(
  store: ClusterStore,
  entries: readonly InventoryEntry[],
  owner: { group: string; name: string; namespace: string },
): ChangeSetEntry[] {
  const changeSet: ChangeSetEntry[] = [];
  const ordered = [...entries].reverse().sort((a, b) => {
    const rank = (e: InventoryEntry) =>
      CLUSTER_DEFINITIONS.has(parseInventoryEntry(e).kind) ? 1 : 0;
    return rank(a) - rank(b);
  });
  for (const entry of ordered) {
    const target = parseInventoryEntry(entry);
    const ref = typeRefOf(target);
    if (!store.findType(ref)) continue;
    const namespace = target.namespace || undefined;
    const existing = store.get(ref, namespace, target.name);
    if (!existing) continue;
    const labels = existing.metadata.labels ?? {};
    const owned =
      labels[`${owner.group}/name`] === owner.name &&
      labels[`${owner.group}/namespace`] === owner.namespace;
    const disabled =
      annotation(existing, `${owner.group}/prune`) === 'disabled' ||
      annotation(existing, `${owner.group}/reconcile`) === 'disabled';
    const subject = formatObjectId(target.kind, namespace, target.name);
    if (!owned || disabled) {
      changeSet.push({ subject, action: 'skipped', entry });
      continue;
    }
    try {
      store.delete(ref, namespace, target.name);
    } catch (error) {
      if (error instanceof StoreError && error.code === 404) continue;
      throw new ApplyError(
        `${subject} delete failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        changeSet,
      );
    }
    changeSet.push({ subject, action: 'deleted', entry });
  }
  return changeSet;
}

/** Sets the owner labels and `commonMetadata` on every object, as the controllers do before applying. */
export function labelObjects(
  objects: readonly KubeObject[],
  ownerLabels: Record<string, string>,
  common?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  },
): KubeObject[] {
  return objects.map(original => {
    const object = structuredClone(original);
    object.metadata.labels = {
      ...object.metadata.labels,
      ...common?.labels,
      ...ownerLabels,
    };
    if (common?.annotations) {
      object.metadata.annotations = {
        ...object.metadata.annotations,
        ...common.annotations,
      };
    }
    return object;
  });
}
