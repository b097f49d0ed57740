import type { KubeObject, TypeRef } from '../../kube/types';

/** One entry of `status.inventory.entries` (cli-utils ObjMetadata plus the version). */
export interface InventoryEntry {
  /** `<namespace>_<name>_<group>_<kind>`; empty namespace for cluster-scoped, empty group for core. */
  id: string;
  v: string;
}

export interface InventoryObject {
  namespace: string;
  name: string;
  group: string;
  kind: string;
  version: string;
}

function splitApiVersion(apiVersion: string): {
  group: string;
  version: string;
} {
  const slash = apiVersion.indexOf('/');
  return slash === -1
    ? { group: '', version: apiVersion }
    : {
        group: apiVersion.slice(0, slash),
        version: apiVersion.slice(slash + 1),
      };
}

export function inventoryEntry(object: KubeObject): InventoryEntry {
  const { group, version } = splitApiVersion(object.apiVersion);
  return {
    id: [
      object.metadata.namespace ?? '',
      object.metadata.name,
      group,
      object.kind,
    ].join('_'),
    v: version,
  };
}

export function parseInventoryEntry(entry: InventoryEntry): InventoryObject {
  const [namespace, name, group, kind] = entry.id.split('_');
  return { namespace, name, group, kind, version: entry.v };
}

export function typeRefOf(object: InventoryObject): TypeRef {
  return {
    apiVersion: object.group
      ? `${object.group}/${object.version}`
      : object.version,
    kind: object.kind,
  };
}

/** ssautil.FmtObjMetadata / FmtUnstructured: `Kind/namespace/name` or `Kind/name`. */
export function formatObjectId(
  kind: string,
  namespace: string | undefined,
  name: string,
): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function formatObject(object: KubeObject): string {
  return formatObjectId(
    object.kind,
    object.metadata.namespace,
    object.metadata.name,
  );
}

/** The entries of `previous` missing from `next` (by id), minus the skipped ones. */
export function staleEntries(
  previous: readonly InventoryEntry[],
  next: readonly InventoryEntry[],
  skippedIds: ReadonlySet<string>,
): InventoryEntry[] {
  const kept = new Set(next.map(e => e.id));
  return previous.filter(e => !kept.has(e.id) && !skippedIds.has(e.id));
}
