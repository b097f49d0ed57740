import { randomUUID } from 'node:crypto';
import { apiVersionOf, compareVersionPriority } from './apiVersions';
import { BOOTSTRAP_RBAC } from './bootstrapRbac';
import {
  alreadyExists,
  invalidObject,
  modifiedConflict,
  namespaceNotFound,
  notFound,
  qualifiedResource,
  unknownType,
} from './errors';
import {
  FieldOwnership,
  FieldScope,
  planApply,
  recordUpdate,
  renderManagedFields,
  scopeFor,
} from './fieldManagement';
import { applyMergePatch, deepEqual, isPlainObject } from './patch';
import type { ServedResourceType } from './resourceTypes';
import { parseFieldSelector, parseLabelSelector } from './selectors';
import {
  ApplyOptions,
  ClusterStore,
  KubeObject,
  ListOptions,
  ResourceType,
  StoreError,
  TypeRef,
  WatchOptions,
} from './types';
import { FieldValidationError } from './validation';
import { ChangeRecord, WatchHub, WatchStart } from './watchHub';

export interface ClusterStoreOptions {
  clusterName: string;
  /** The served types, e.g. from `loadResourceTypes()`. */
  types: ResourceType[];
  /** Watch events kept for resuming watches; older resourceVersions get 410 Gone. Default 1000. */
  historyLimit?: number;
  /** How often watches that allow bookmarks get one. Default 60 s. */
  bookmarkIntervalMs?: number;
  /**
   * Namespaces present at start. Default: default, kube-system, kube-public, kube-node-lease.
   * When RBAC is served, the bootstrap ClusterRoles (`cluster-admin`, `admin`, `edit`, `view`)
   * and the `cluster-admin` ClusterRoleBinding are present at start too.
   */
  initialNamespaces?: string[];
  /** The clock for timestamps. */
  now?: () => Date;
}

/** Who writes, and whether to only compute the result (`?dryRun=All`). */
export interface WriteOptions {
  /** The managedFields manager of an Update operation. Default `unknown`. */
  fieldManager?: string;
  dryRun?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** The in-memory ClusterStore, with the optional extras the HTTP server passes through. */
export interface KubeClusterStore extends ClusterStore {
  create(object: KubeObject, options?: WriteOptions): KubeObject;
  update(
    object: KubeObject,
    options?: { subresource?: 'status' } & WriteOptions,
  ): KubeObject;
  mergePatch(
    ref: TypeRef,
    namespace: string | undefined,
    name: string,
    patch: Record<string, unknown>,
    options?: { subresource?: 'status' } & WriteOptions,
  ): KubeObject;
  apply(
    object: KubeObject,
    options: ApplyOptions & { dryRun?: boolean },
  ): KubeObject;
  delete(
    ref: TypeRef,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): KubeObject;
  /** Forgets all watch history, like an etcd compaction: older watches then get 410. */
  compactHistory(): void;
  /** Ends bookmark timers; the store stays readable. */
  close(): void;
}

interface StoredRecord {
  /** In the storage version, with rendered managedFields. */
  object: KubeObject;
  fields: FieldOwnership[];
}

/** All served versions of one group/kind share a Storage. */
interface Storage {
  key: string;
  group: string;
  kind: string;
  namespaced: boolean;
  storageApiVersion: string;
  records: Map<string, StoredRecord>;
}

type TrackFields = (
  current: KubeObject | undefined,
  next: KubeObject,
) => FieldOwnership[];

const DEFAULT_NAMESPACES = [
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
];
const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function typeKey(apiVersion: string, kind: string): string {
  return `${apiVersion}|${kind}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function convert(object: KubeObject, apiVersion: string): KubeObject {
  const copy = structuredClone(object);
  copy.apiVersion = apiVersion;
  return copy;
}

function withoutManagedFields(object: KubeObject): KubeObject {
  const { managedFields: _ignored, ...metadata } = object.metadata;
  return { ...object, metadata: metadata as KubeObject['metadata'] };
}

/** generation tracks the desired state: everything but metadata (and status when it is a subresource). */
function specChanged(
  type: ResourceType,
  before: KubeObject,
  after: KubeObject,
): boolean {
  const desired = (o: KubeObject) =>
    Object.fromEntries(
      Object.entries(o).filter(
        ([key]) =>
          key !== 'metadata' &&
          key !== 'apiVersion' &&
          key !== 'kind' &&
          (key !== 'status' || !type.statusSubresource),
      ),
    );
  return !deepEqual(desired(before), desired(after));
}

function randomSuffix(): string {
  return Array.from(
    { length: 5 },
    () =>
      GENERATE_NAME_ALPHABET[
        Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)
      ],
  ).join('');
}

function preconditionMismatch(
  preconditions: DeleteOptions['preconditions'],
  object: KubeObject,
): string | undefined {
  const { uid, resourceVersion } = preconditions ?? {};
  if (uid && uid !== object.metadata.uid) {
    return `UID in precondition: ${uid}, UID in object meta: ${object.metadata.uid}`;
  }
  if (resourceVersion && resourceVersion !== object.metadata.resourceVersion) {
    return `ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${object.metadata.resourceVersion}`;
  }
  return undefined;
}

function parseResourceVersion(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new StoreError(
      400,
      'BadRequest',
      `resourceVersion: Invalid value: "${value}": strconv.ParseUint: parsing "${value}": invalid syntax`,
    );
  }
  return Number(value);
}

/** An in-memory Kubernetes object store with the API server's write and watch semantics. */
export function createClusterStore(
  options: ClusterStoreOptions,
): KubeClusterStore {
  const now = options.now ?? (() => new Date());
  const historyLimit = options.historyLimit ?? 1000;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;

  const typesByRef = new Map<string, ResourceType>();
  const storages = new Map<string, Storage>();
  const storageOfType = new Map<ResourceType, Storage>();
  const versionsByKind = new Map<string, ResourceType[]>();
  for (const type of options.types) {
    typesByRef.set(typeKey(apiVersionOf(type), type.kind), type);
    const kindKey = `${type.group}/${type.kind}`;
    versionsByKind.set(kindKey, [...(versionsByKind.get(kindKey) ?? []), type]);
  }
  for (const [kindKey, versions] of versionsByKind) {
    const [preferred] = [...versions].sort((a, b) =>
      compareVersionPriority(a.version, b.version),
    );
    const storage: Storage = {
      key: kindKey,
      group: preferred.group,
      kind: preferred.kind,
      namespaced: preferred.namespaced,
      storageApiVersion: apiVersionOf(preferred),
      records: new Map(),
    };
    storages.set(kindKey, storage);
    versions.forEach(v => storageOfType.set(v, storage));
  }
  const namespaceStorage = storages.get('/Namespace');

  let revision = 0;
  /** uids of the objects that exist, for the garbage collector's owner checks. */
  const liveUids = new Set<string>();
  const hub = new WatchHub({
    historyLimit,
    bookmarkIntervalMs,
    currentRevision: () => revision,
  });

  function requireType(ref: TypeRef): ResourceType {
    const type = typesByRef.get(typeKey(ref.apiVersion, ref.kind));
    if (!type) throw unknownType(ref.apiVersion, ref.kind);
    return type;
  }

  function storageOf(type: ResourceType): Storage {
    return storageOfType.get(type)!;
  }

  function typeOfStorage(storage: Storage): ResourceType {
    return requireType({
      apiVersion: storage.storageApiVersion,
      kind: storage.kind,
    });
  }

  function namespaceOf(
    type: ResourceType,
    namespace: string | undefined,
  ): string | undefined {
    return type.namespaced ? namespace : undefined;
  }

  function record(change: {
    storage: Storage;
    type: ChangeRecord['type'];
    object: KubeObject;
    previous?: KubeObject;
  }): void {
    hub.record({
      revision: Number(change.object.metadata.resourceVersion),
      storageKey: change.storage.key,
      type: change.type,
      object: change.object,
      previous: change.previous,
    });
  }

  function stamp(object: KubeObject, fields: FieldOwnership[]): void {
    object.metadata.resourceVersion = String(++revision);
    object.metadata.managedFields = renderManagedFields(fields);
  }

  /** Defaulting then validation; any validation failure becomes a 422 Invalid. */
  function prepare(type: ResourceType, object: KubeObject): void {
    (type as ServedResourceType).applyDefaults?.(object);
    try {
      type.validate?.(object);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const causes = error instanceof FieldValidationError ? error.causes : [];
      throw invalidObject(
        type,
        object.metadata.name,
        (error as Error).message,
        causes,
      );
    }
  }

  function ensureNamespaceWritable(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ) {
    if (!type.namespaced || !namespaceStorage) return;
    const ns = namespaceStorage.records.get(objectKey(undefined, namespace!));
    if (!ns) throw namespaceNotFound(namespace!);
    if (ns.object.metadata.deletionTimestamp) {
      throw new StoreError(
        403,
        'Forbidden',
        `${qualifiedResource(
          type,
        )} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { name, group: type.group, kind: type.plural },
      );
    }
  }

  function normalizeIdentity(type: ResourceType, object: KubeObject): void {
    if (!isPlainObject(object.metadata))
      object.metadata = {} as KubeObject['metadata'];
    if (type.namespaced) {
      if (!object.metadata.namespace) {
        throw invalidObject(
          type,
          object.metadata.name ?? '',
          'metadata.namespace: Required value',
          [
            {
              reason: 'FieldValueRequired',
              field: 'metadata.namespace',
              message: 'Required value',
            },
          ],
        );
      }
    } else {
      delete object.metadata.namespace;
    }
  }

  function insert(
    type: ResourceType,
    input: KubeObject,
    trackFields: TrackFields,
    dryRun: boolean,
  ) {
    const storage = storageOf(type);
    const object = structuredClone(input);
    normalizeIdentity(type, object);
    const metadata = object.metadata;
    if (
      !metadata.name &&
      typeof metadata.generateName === 'string' &&
      metadata.generateName
    ) {
      metadata.name = `${metadata.generateName}${randomSuffix()}`;
    }
    if (!metadata.name) {
      throw invalidObject(
        type,
        '',
        'metadata.name: Required value: name or generateName is required',
        [
          {
            reason: 'FieldValueRequired',
            field: 'metadata.name',
            message: 'name or generateName is required',
          },
        ],
      );
    }
    ensureNamespaceWritable(type, metadata.namespace, metadata.name);
    const key = objectKey(metadata.namespace, metadata.name);
    if (storage.records.has(key)) throw alreadyExists(type, metadata.name);

    for (const field of [
      'uid',
      'resourceVersion',
      'generation',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'managedFields',
      'selfLink',
    ]) {
      delete metadata[field];
    }
    if (type.statusSubresource) delete object.status;
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    metadata.uid = randomUUID();
    metadata.generation = 1;
    metadata.creationTimestamp = rfc3339(now());
    prepare(type, object);

    const fields = trackFields(undefined, object);
    if (dryRun) {
      return {
        ...object,
        metadata: { ...metadata, managedFields: renderManagedFields(fields) },
      };
    }
    const stored = convert(object, storage.storageApiVersion);
    stamp(stored, fields);
    storage.records.set(key, { object: stored, fields });
    liveUids.add(metadata.uid);
    record({ storage, type: 'ADDED', object: structuredClone(stored) });
    hub.deliver();
    return convert(stored, apiVersionOf(type));
  }

  /** Removes a record for good, then lets the garbage collector and namespace lifecycle react. */
  function remove(storage: Storage, key: string): KubeObject {
    const current = storage.records.get(key)!;
    storage.records.delete(key);
    liveUids.delete(current.object.metadata.uid!);
    const deleted = structuredClone(current.object);
    deleted.metadata.resourceVersion = String(++revision);
    record({
      storage,
      type: 'DELETED',
      object: deleted,
      previous: current.object,
    });
    collectGarbage(deleted.metadata.uid!);
    if (storage.namespaced) finishNamespaceIfEmpty(deleted.metadata.namespace!);
    hub.deliver();
    return deleted;
  }

  function replaceRecord(
    storage: Storage,
    key: string,
    next: KubeObject,
    fields: FieldOwnership[],
  ): KubeObject {
    const previous = storage.records.get(key)!.object;
    stamp(next, fields);
    storage.records.set(key, { object: next, fields });
    record({
      storage,
      type: 'MODIFIED',
      object: structuredClone(next),
      previous,
    });
    hub.deliver();
    return next;
  }

  /**
   * The common path of update, patch and apply: identity and system fields come from the
   * stored object, the subresource decides whether spec or status may change.
   */
  function write(
    type: ResourceType,
    key: string,
    candidate: KubeObject,
    subresource: 'status' | undefined,
    trackFields: TrackFields,
    dryRun: boolean,
  ): KubeObject {
    const storage = storageOf(type);
    const stored = storage.records.get(key)!;
    const current = convert(stored.object, apiVersionOf(type));
    let next: KubeObject;
    if (subresource === 'status') {
      if (!type.statusSubresource) throw notFound(type, current.metadata.name);
      next = structuredClone(current);
      if (candidate.status === undefined) delete next.status;
      else next.status = structuredClone(candidate.status);
    } else {
      next = structuredClone(candidate);
      if (!isPlainObject(next.metadata))
        next.metadata = {} as KubeObject['metadata'];
      if (type.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = structuredClone(current.status);
      }
    }
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    const systemFields = [
      'name',
      'namespace',
      'uid',
      'creationTimestamp',
      'generation',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'resourceVersion',
    ];
    for (const field of systemFields) {
      if (current.metadata[field] === undefined) delete next.metadata[field];
      else next.metadata[field] = current.metadata[field];
    }
    delete next.metadata.managedFields;
    prepare(type, next);

    if (current.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter(
        f => !(current.metadata.finalizers ?? []).includes(f),
      );
      if (added.length > 0) {
        throw invalidObject(
          type,
          current.metadata.name,
          `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added
            .map(f => JSON.stringify(f))
            .join(', ')}}`,
          [
            {
              reason: 'FieldValueForbidden',
              field: 'metadata.finalizers',
              message:
                'no new finalizers can be added if the object is being deleted',
            },
          ],
        );
      }
    }
    if (specChanged(type, current, next))
      next.metadata.generation = (current.metadata.generation ?? 0) + 1;

    const fields = trackFields(current, next);
    const unchanged =
      deepEqual(withoutManagedFields(current), next) &&
      deepEqual(
        renderManagedFields(fields).map(stripTime),
        renderManagedFields(stored.fields).map(stripTime),
      );
    if (unchanged || dryRun) {
      return dryRun
        ? {
            ...next,
            metadata: {
              ...next.metadata,
              managedFields: renderManagedFields(fields),
            },
          }
        : current;
    }
    const nextStored = convert(next, storage.storageApiVersion);
    if (
      nextStored.metadata.deletionTimestamp &&
      (nextStored.metadata.finalizers ?? []).length === 0
    ) {
      storage.records.set(key, { object: nextStored, fields });
      return convert(remove(storage, key), apiVersionOf(type));
    }
    return convert(
      replaceRecord(storage, key, nextStored, fields),
      apiVersionOf(type),
    );
  }

  function stripTime(entry: unknown): unknown {
    const { time: _time, ...rest } = entry as Record<string, unknown>;
    return rest;
  }

  function updateTracker(
    type: ResourceType,
    manager: string | undefined,
    subresource: 'status' | undefined,
  ): TrackFields {
    const scope: FieldScope = scopeFor(type, subresource);
    return (current, next) =>
      recordUpdate(
        current ? storageRecordFields(type, current) : [],
        {
          manager: manager ?? 'unknown',
          subresource,
          apiVersion: apiVersionOf(type),
          time: rfc3339(now()),
        },
        current,
        next,
        scope,
      );
  }

  function storageRecordFields(
    type: ResourceType,
    object: KubeObject,
  ): FieldOwnership[] {
    return (
      storageOf(type).records.get(
        objectKey(object.metadata.namespace, object.metadata.name),
      )?.fields ?? []
    );
  }

  function findRecord(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ) {
    const key = objectKey(namespaceOf(type, namespace), name);
    const stored = storageOf(type).records.get(key);
    if (!stored) throw notFound(type, name);
    return { key, stored };
  }

  function dependentsOf(
    ownerUid: string,
  ): Array<{ storage: Storage; key: string }> {
    const dependents: Array<{ storage: Storage; key: string }> = [];
    for (const storage of storages.values()) {
      for (const [key, stored] of storage.records) {
        const references = stored.object.metadata.ownerReferences ?? [];
        if (references.some(ref => ref.uid === ownerUid))
          dependents.push({ storage, key });
      }
    }
    return dependents;
  }

  function dropOwnerReference(
    storage: Storage,
    key: string,
    ownerUid: string,
  ): void {
    const type = typeOfStorage(storage);
    const next = convert(storage.records.get(key)!.object, apiVersionOf(type));
    const remaining = (next.metadata.ownerReferences ?? []).filter(
      ref => ref.uid !== ownerUid,
    );
    if (remaining.length > 0) next.metadata.ownerReferences = remaining;
    else delete next.metadata.ownerReferences;
    const tracker = updateTracker(type, 'generic-garbage-collector', undefined);
    write(type, key, next, undefined, tracker, false);
  }

  /** Background propagation: dependents without another live owner are deleted in turn. */
  function collectGarbage(ownerUid: string): void {
    for (const { storage, key } of dependentsOf(ownerUid)) {
      const stored = storage.records.get(key);
      if (!stored) continue;
      const otherLiveOwner = (
        stored.object.metadata.ownerReferences ?? []
      ).some(ref => ref.uid !== ownerUid && liveUids.has(ref.uid));
      if (otherLiveOwner) dropOwnerReference(storage, key, ownerUid);
      else deleteRecord(storage, key, 'Background');
    }
  }

  function orphanDependents(ownerUid: string): void {
    for (const { storage, key } of dependentsOf(ownerUid)) {
      dropOwnerReference(storage, key, ownerUid);
    }
  }

  /** Graceful deletion: the object stays, Terminating, until its finalizers are gone. */
  function markDeleting(
    storage: Storage,
    key: string,
    mutate?: (o: KubeObject) => void,
  ): KubeObject {
    const stored = storage.records.get(key)!;
    const next = structuredClone(stored.object);
    next.metadata.deletionTimestamp = rfc3339(now());
    next.metadata.deletionGracePeriodSeconds = 0;
    if (mutate) mutate(next);
    else next.metadata.generation = (next.metadata.generation ?? 0) + 1;
    return replaceRecord(storage, key, next, stored.fields);
  }

  function finishNamespaceIfEmpty(namespace: string): void {
    if (!namespaceStorage) return;
    const key = objectKey(undefined, namespace);
    const ns = namespaceStorage.records.get(key);
    if (!ns?.object.metadata.deletionTimestamp) return;
    for (const storage of storages.values()) {
      if (!storage.namespaced) continue;
      for (const stored of storage.records.values()) {
        if (stored.object.metadata.namespace === namespace) return;
      }
    }
    remove(namespaceStorage, key);
  }

  /** The namespace controller: mark Terminating, delete the contents, go once empty. */
  function deleteNamespace(key: string): KubeObject {
    const nsStorage = namespaceStorage!;
    const name = nsStorage.records.get(key)!.object.metadata.name;
    if (nsStorage.records.get(key)!.object.metadata.deletionTimestamp) {
      return nsStorage.records.get(key)!.object;
    }
    const terminating = markDeleting(nsStorage, key, o => {
      o.status = { ...(o.status as object | undefined), phase: 'Terminating' };
    });
    for (const storage of storages.values()) {
      if (!storage.namespaced) continue;
      for (const [objectKeyInNs, stored] of [...storage.records]) {
        if (
          stored.object.metadata.namespace === name &&
          storage.records.has(objectKeyInNs)
        ) {
          deleteRecord(storage, objectKeyInNs, 'Background');
        }
      }
    }
    finishNamespaceIfEmpty(name);
    return terminating;
  }

  function deleteRecord(
    storage: Storage,
    key: string,
    propagation: DeleteOptions['propagationPolicy'],
  ): KubeObject {
    const stored = storage.records.get(key)!;
    if (storage === namespaceStorage) return deleteNamespace(key);
    if (propagation === 'Orphan') orphanDependents(stored.object.metadata.uid!);
    if ((stored.object.metadata.finalizers ?? []).length > 0) {
      if (stored.object.metadata.deletionTimestamp) return stored.object;
      return markDeleting(storage, key);
    }
    return remove(storage, key);
  }

  const store: KubeClusterStore = {
    clusterName: options.clusterName,

    types: () => [...options.types],

    findType: ref => typesByRef.get(typeKey(ref.apiVersion, ref.kind)),

    get(ref, namespace, name) {
      const type = requireType(ref);
      const stored = storageOf(type).records.get(
        objectKey(namespaceOf(type, namespace), name),
      );
      return stored ? convert(stored.object, ref.apiVersion) : undefined;
    },

    list(ref, listOptions: ListOptions = {}) {
      const type = requireType(ref);
      const labels = parseLabelSelector(listOptions.labelSelector);
      const fields = parseFieldSelector(listOptions.fieldSelector);
      const namespace = namespaceOf(type, listOptions.namespace);
      const items = [...storageOf(type).records.values()]
        .map(r => r.object)
        .filter(o => !namespace || o.metadata.namespace === namespace)
        .filter(o => labels(o) && fields(o))
        .sort((a, b) => {
          const keyA = objectKey(a.metadata.namespace, a.metadata.name);
          const keyB = objectKey(b.metadata.namespace, b.metadata.name);
          return keyA < keyB ? -1 : Number(keyA > keyB);
        })
        .map(o => convert(o, ref.apiVersion));
      return { items, resourceVersion: String(revision) };
    },

    create(object, writeOptions = {}) {
      const type = requireType(object);
      return insert(
        type,
        object,
        updateTracker(type, writeOptions.fieldManager, undefined),
        writeOptions.dryRun ?? false,
      );
    },

    update(object, updateOptions = {}) {
      const type = requireType(object);
      if (!isPlainObject(object.metadata) || !object.metadata.name) {
        throw invalidObject(
          type,
          '',
          'metadata.name: Required value: name is required',
          [
            {
              reason: 'FieldValueRequired',
              field: 'metadata.name',
              message: 'name is required',
            },
          ],
        );
      }
      const name = object.metadata.name;
      const { key, stored } = findRecord(
        type,
        object.metadata?.namespace,
        name,
      );
      const expected = object.metadata.resourceVersion;
      if (expected && expected !== stored.object.metadata.resourceVersion) {
        throw modifiedConflict(type, name);
      }
      if (
        object.metadata.uid &&
        object.metadata.uid !== stored.object.metadata.uid
      ) {
        throw new StoreError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${qualifiedResource(
            type,
          )} "${name}": Precondition failed: UID in precondition: ${
            object.metadata.uid
          }, UID in object meta: ${stored.object.metadata.uid}`,
          { name, group: type.group, kind: type.plural },
        );
      }
      const { subresource } = updateOptions;
      return write(
        type,
        key,
        object,
        subresource,
        updateTracker(type, updateOptions.fieldManager, subresource),
        updateOptions.dryRun ?? false,
      );
    },

    mergePatch(ref, namespace, name, patch, patchOptions = {}) {
      const type = requireType(ref);
      const { key, stored } = findRecord(type, namespace, name);
      const expected = isPlainObject(patch.metadata)
        ? patch.metadata.resourceVersion
        : undefined;
      if (
        typeof expected === 'string' &&
        expected !== stored.object.metadata.resourceVersion
      ) {
        throw modifiedConflict(type, name);
      }
      const patched = applyMergePatch(
        convert(stored.object, ref.apiVersion),
        patch,
      ) as KubeObject;
      const { subresource } = patchOptions;
      return write(
        type,
        key,
        patched,
        subresource,
        updateTracker(type, patchOptions.fieldManager, subresource),
        patchOptions.dryRun ?? false,
      );
    },

    apply(config, applyOptions) {
      const type = requireType(config);
      const object = structuredClone(config);
      normalizeIdentity(type, object);
      const name = object.metadata.name;
      if (!name) {
        throw invalidObject(
          type,
          '',
          'metadata.name: Required value: name is required',
          [
            {
              reason: 'FieldValueRequired',
              field: 'metadata.name',
              message: 'name is required',
            },
          ],
        );
      }
      const {
        subresource,
        fieldManager,
        force = false,
        dryRun = false,
      } = applyOptions;
      const request = {
        manager: fieldManager,
        subresource,
        apiVersion: apiVersionOf(type),
        time: rfc3339(now()),
        force,
        type,
        name,
        scope: scopeFor(type, subresource),
      };
      const key = objectKey(object.metadata.namespace, name);
      const stored = storageOf(type).records.get(key);
      if (!stored) {
        if (subresource === 'status') throw notFound(type, name);
        const planned = planApply([], undefined, object, request);
        const created = {
          ...planned.object,
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: {
            ...(planned.object.metadata as object),
            name,
            namespace: object.metadata.namespace,
          },
        } as KubeObject;
        return insert(type, created, () => planned.entries, dryRun);
      }
      const expected = object.metadata.resourceVersion;
      if (expected && expected !== stored.object.metadata.resourceVersion)
        throw modifiedConflict(type, name);
      const live = convert(stored.object, apiVersionOf(type));
      const planned = planApply(stored.fields, live, object, request);
      return write(
        type,
        key,
        planned.object as KubeObject,
        subresource,
        () => planned.entries,
        dryRun,
      );
    },

    delete(ref, namespace, name, deleteOptions = {}) {
      const type = requireType(ref);
      const { key, stored } = findRecord(type, namespace, name);
      const mismatch = preconditionMismatch(
        deleteOptions.preconditions,
        stored.object,
      );
      if (mismatch) {
        throw new StoreError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${qualifiedResource(
            type,
          )} "${name}": Precondition failed: ${mismatch}`,
          { name, group: type.group, kind: type.plural },
        );
      }
      if (deleteOptions.dryRun) return convert(stored.object, ref.apiVersion);
      return convert(
        deleteRecord(storageOf(type), key, deleteOptions.propagationPolicy),
        ref.apiVersion,
      );
    },

    watch(ref, watchOptions: WatchOptions, listener) {
      const type = requireType(ref);
      const labels = parseLabelSelector(watchOptions.labelSelector);
      const fields = parseFieldSelector(watchOptions.fieldSelector);
      const from = watchOptions.resourceVersion;
      // Without a resourceVersion the watch starts with the current state as ADDED events.
      const start: WatchStart =
        !from || from === '0'
          ? {
              initial: store
                .list(ref, watchOptions)
                .items.map(object => ({ type: 'ADDED', object })),
            }
          : { after: parseResourceVersion(from) };
      return hub.subscribe(
        {
          storageKey: storageOf(type).key,
          kind: type.kind,
          apiVersion: ref.apiVersion,
          namespace: namespaceOf(type, watchOptions.namespace),
          matches: o => labels(o) && fields(o),
          listener,
          allowBookmarks: watchOptions.allowBookmarks,
        },
        start,
      );
    },

    currentResourceVersion: () => String(revision),

    compactHistory: () => hub.compact(),

    close: () => hub.close(),
  };

  const namespaceType = namespaceStorage && typeOfStorage(namespaceStorage);
  for (const name of namespaceType
    ? options.initialNamespaces ?? DEFAULT_NAMESPACES
    : []) {
    store.create(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      { fieldManager: 'kube-apiserver' },
    );
  }
  // As kube-apiserver's RBAC bootstrap: the default ClusterRoles and their binding.
  for (const object of BOOTSTRAP_RBAC) {
    if (!typesByRef.has(typeKey(object.apiVersion, object.kind))) continue;
    store.create(structuredClone(object), { fieldManager: 'kube-apiserver' });
  }
  return store;
}
