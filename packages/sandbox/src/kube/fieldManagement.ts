/**
 * Field ownership, a simplified model of the API server's structured-merge-diff: fields are
 * leaf paths (maps are granular, lists are atomic), each write records which manager owns
 * which fields, and server-side apply merges, detects conflicts and prunes by ownership.
 */
import { StoreErrorWithCauses, type StatusCause } from './errors';
import { deepEqual, isPlainObject, type JsonObject } from './patch';
import type { KubeObject, ResourceType } from './types';

export interface FieldOwnership {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource?: 'status';
  apiVersion: string;
  time: string;
  /** JSON-encoded leaf paths, e.g. `["spec","url"]`. */
  fields: Set<string>;
}

/** Which part of an object a write addresses. */
export type FieldScope = 'whole' | 'main' | 'status';

export function scopeFor(
  type: ResourceType,
  subresource?: 'status',
): FieldScope {
  if (!type.statusSubresource) return 'whole';
  return subresource === 'status' ? 'status' : 'main';
}

/** ObjectMeta fields the server owns; never tracked, never applied. */
const SYSTEM_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

function inScope(topLevelKey: string, scope: FieldScope): boolean {
  if (topLevelKey === 'apiVersion' || topLevelKey === 'kind') return false;
  if (scope === 'status') return topLevelKey === 'status';
  if (scope === 'main') return topLevelKey !== 'status';
  return true;
}

/** The scoped, user-settable top level of an object (system metadata stripped). */
function scopedContent(object: JsonObject, scope: FieldScope): JsonObject {
  const content: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (!inScope(key, scope)) continue;
    if (key === 'metadata' && isPlainObject(value)) {
      const metadata = Object.fromEntries(
        Object.entries(value).filter(([field]) => !SYSTEM_METADATA.has(field)),
      );
      if (Object.keys(metadata).length > 0) content.metadata = metadata;
    } else {
      content[key] = value;
    }
  }
  return content;
}

/** Leaf paths with their values; an empty map is a leaf, a list is atomic. */
export function collectFields(
  object: KubeObject | JsonObject,
  scope: FieldScope,
): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  const walk = (value: unknown, path: string[]) => {
    if (
      isPlainObject(value) &&
      (Object.keys(value).length > 0 || path.length === 0)
    ) {
      for (const [key, child] of Object.entries(value))
        walk(child, [...path, key]);
    } else {
      fields.set(JSON.stringify(path), value);
    }
  };
  walk(scopedContent(object as JsonObject, scope), []);
  return fields;
}

export interface WriteContext {
  manager: string;
  subresource?: 'status';
  apiVersion: string;
  time: string;
}

function sameSlot(
  entry: FieldOwnership,
  subresource: 'status' | undefined,
): boolean {
  return entry.subresource === subresource;
}

function withoutEmpty(entries: FieldOwnership[]): FieldOwnership[] {
  return entries.filter(e => e.fields.size > 0);
}

/** An Update (create, replace, patch): the writer takes over the fields it changed. */
export function recordUpdate(
  entries: FieldOwnership[],
  context: WriteContext,
  before: KubeObject | undefined,
  after: KubeObject,
  scope: FieldScope,
): FieldOwnership[] {
  const oldFields = before
    ? collectFields(before, scope)
    : new Map<string, unknown>();
  const newFields = collectFields(after, scope);
  const changed = [...newFields]
    .filter(
      ([path, value]) =>
        !oldFields.has(path) || !deepEqual(oldFields.get(path), value),
    )
    .map(([path]) => path);
  const removed = [...oldFields.keys()].filter(path => !newFields.has(path));
  if (changed.length === 0 && removed.length === 0) return entries;

  const next = entries.map(entry => {
    if (!sameSlot(entry, context.subresource)) return entry;
    const fields = new Set(entry.fields);
    for (const path of [...changed, ...removed]) fields.delete(path);
    return { ...entry, fields };
  });
  if (changed.length > 0) {
    const own = next.find(
      e =>
        e.manager === context.manager &&
        e.operation === 'Update' &&
        sameSlot(e, context.subresource),
    );
    if (own) {
      changed.forEach(path => own.fields.add(path));
      own.time = context.time;
      own.apiVersion = context.apiVersion;
    } else {
      next.push({
        manager: context.manager,
        operation: 'Update',
        ...(context.subresource ? { subresource: context.subresource } : {}),
        apiVersion: context.apiVersion,
        time: context.time,
        fields: new Set(changed),
      });
    }
  }
  return withoutEmpty(next);
}

interface Conflict {
  owner: FieldOwnership;
  path: string[];
}

function formatPath(path: string[]): string {
  return path.map(segment => `.${segment}`).join('');
}

function describeManager(owner: FieldOwnership): string {
  const name = `"${owner.manager}"${
    owner.subresource ? ` with subresource "${owner.subresource}"` : ''
  }`;
  return owner.operation === 'Update'
    ? `${name} using ${owner.apiVersion}`
    : name;
}

/** The apply conflict Status of the API server, message and causes word for word. */
function conflictError(
  conflicts: Conflict[],
  type: ResourceType,
  name: string,
): StoreErrorWithCauses {
  const causes: StatusCause[] = conflicts.map(c => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${describeManager(c.owner)}`,
    field: formatPath(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${describeManager(
      conflicts[0].owner,
    )}: ${formatPath(conflicts[0].path)}`;
  } else {
    const byManager = new Map<string, Conflict[]>();
    for (const conflict of conflicts) {
      const key = describeManager(conflict.owner);
      byManager.set(key, [...(byManager.get(key) ?? []), conflict]);
    }
    const lines = [...byManager.keys()]
      .sort()
      .flatMap(manager => [
        `conflicts with ${manager}:`,
        ...byManager.get(manager)!.map(c => `- ${formatPath(c.path)}`),
      ]);
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join(
      '\n',
    )}`;
  }
  return new StoreErrorWithCauses(
    409,
    'Conflict',
    message,
    { name, group: type.group, kind: type.plural },
    causes,
  );
}

function mergeInto(target: JsonObject, config: JsonObject): void {
  for (const [key, value] of Object.entries(config)) {
    if (value === null) {
      delete target[key];
    } else if (isPlainObject(value) && isPlainObject(target[key])) {
      const child = { ...(target[key] as JsonObject) };
      mergeInto(child, value);
      target[key] = child;
    } else {
      target[key] = structuredClone(value);
    }
  }
}

/** Removes a leaf and the maps it leaves empty below the top-level sections. */
function removeField(object: JsonObject, path: string[]): void {
  const parents: JsonObject[] = [];
  let current: unknown = object;
  for (const segment of path.slice(0, -1)) {
    if (!isPlainObject(current)) return;
    parents.push(current);
    current = current[segment];
  }
  if (!isPlainObject(current)) return;
  delete current[path[path.length - 1]];
  for (let depth = path.length - 2; depth >= 1; depth--) {
    const holder = parents[depth];
    const child = holder[path[depth]];
    if (isPlainObject(child) && Object.keys(child).length === 0)
      delete holder[path[depth]];
    else break;
  }
}

export interface ApplyRequest extends WriteContext {
  force: boolean;
  type: ResourceType;
  name: string;
  scope: FieldScope;
}

export interface ApplyResult {
  object: JsonObject;
  entries: FieldOwnership[];
}

/**
 * Server-side apply of `config` over `live` (absent on create): fields another manager set to
 * a different value conflict (409) unless forced, which takes them over; fields this manager
 * applied before and no longer applies are removed unless someone else owns them too.
 */
export function planApply(
  entries: FieldOwnership[],
  live: KubeObject | undefined,
  config: KubeObject,
  request: ApplyRequest,
): ApplyResult {
  const applied = collectFields(config, request.scope);
  const liveFields = live
    ? collectFields(live, request.scope)
    : new Map<string, unknown>();
  const isOwnApply = (e: FieldOwnership) =>
    e.manager === request.manager &&
    e.operation === 'Apply' &&
    sameSlot(e, request.subresource);

  const conflicts: Conflict[] = [];
  for (const entry of entries) {
    if (!sameSlot(entry, request.subresource) || isOwnApply(entry)) continue;
    for (const path of entry.fields) {
      if (
        applied.has(path) &&
        !deepEqual(liveFields.get(path), applied.get(path))
      ) {
        conflicts.push({ owner: entry, path: JSON.parse(path) });
      }
    }
  }
  if (conflicts.length > 0 && !request.force) {
    throw conflictError(conflicts, request.type, request.name);
  }

  const taken = new Set(conflicts.map(c => JSON.stringify(c.path)));
  const others = entries
    .filter(e => !isOwnApply(e))
    .map(e =>
      sameSlot(e, request.subresource)
        ? {
            ...e,
            fields: new Set([...e.fields].filter(path => !taken.has(path))),
          }
        : e,
    );

  const object: JsonObject = live ? structuredClone(live) : {};
  mergeInto(object, scopedContent(config as JsonObject, request.scope));

  const previouslyApplied =
    entries.find(isOwnApply)?.fields ?? new Set<string>();
  const ownedByOthers = (path: string) =>
    others.some(e => sameSlot(e, request.subresource) && e.fields.has(path));
  for (const path of previouslyApplied) {
    if (!applied.has(path) && !ownedByOthers(path))
      removeField(object, JSON.parse(path));
  }

  const own: FieldOwnership = {
    manager: request.manager,
    operation: 'Apply',
    ...(request.subresource ? { subresource: request.subresource } : {}),
    apiVersion: request.apiVersion,
    time: request.time,
    fields: new Set(applied.keys()),
  };
  return { object, entries: withoutEmpty([...others, own]) };
}

function fieldsV1(fields: Set<string>): JsonObject {
  const tree: JsonObject = {};
  for (const encoded of [...fields].sort()) {
    let node = tree;
    for (const segment of JSON.parse(encoded) as string[]) {
      const key = `f:${segment}`;
      node[key] = isPlainObject(node[key]) ? node[key] : {};
      node = node[key] as JsonObject;
    }
  }
  return tree;
}

/** `metadata.managedFields` as the API server renders it. */
export function renderManagedFields(entries: FieldOwnership[]): unknown[] {
  return entries.map(entry => ({
    manager: entry.manager,
    operation: entry.operation,
    apiVersion: entry.apiVersion,
    time: entry.time,
    fieldsType: 'FieldsV1',
    fieldsV1: fieldsV1(entry.fields),
    ...(entry.subresource ? { subresource: entry.subresource } : {}),
  }));
}
