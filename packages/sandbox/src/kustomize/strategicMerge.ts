import type { Gvk } from './resource';

/**
 * Strategic merge patch with the merge keys of the Kubernetes types: maps merge
 * recursively (`null` deletes a key), the keyed lists below merge element by element,
 * other lists are replaced; `$patch: delete` and `$patch: replace` directives work on
 * maps and list elements. Types without a schema (custom resources) get kyaml's
 * heuristic: a list of maps merges on the first associative key all elements share.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const KEYED_LISTS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  readinessGates: 'conditionType',
};

// kyaml's AssociativeSequenceKeys, tried in this order for types without a schema.
const ASSOCIATIVE_KEYS = [
  'mountPath',
  'devicePath',
  'ip',
  'type',
  'topologyKey',
  'name',
  'containerPort',
];

const BUILTIN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'certificates.k8s.io',
]);

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

class StrategicMerger {
  private readonly builtin: boolean;

  constructor(private readonly gvk: Gvk) {
    this.builtin =
      BUILTIN_GROUPS.has(gvk.group) && !gvk.group.endsWith('.x-k8s.io');
  }

  mergeObject(
    original: JsonObject,
    patch: JsonObject,
    path: string[],
  ): JsonObject {
    if (patch.$patch === 'replace') return stripDirectives(patch) as JsonObject;
    const result: JsonObject = { ...original };
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$')) continue;
      if (value === null || (isObject(value) && value.$patch === 'delete')) {
        delete result[key];
      } else {
        result[key] = this.mergeValue(result[key], value, [...path, key]);
      }
    }
    return result;
  }

  private mergeValue(
    original: Json | undefined,
    patch: Json,
    path: string[],
  ): Json {
    if (isObject(patch)) {
      return isObject(original)
        ? this.mergeObject(original, patch, path)
        : (stripDirectives(patch) as JsonObject);
    }
    if (Array.isArray(patch)) {
      const replaceMarker = patch.findIndex(
        item => isObject(item) && item.$patch === 'replace',
      );
      if (replaceMarker !== -1) {
        return stripDirectives(
          patch.filter((_, index) => index !== replaceMarker),
        );
      }
      const key = Array.isArray(original)
        ? this.mergeKey(path, original, patch)
        : undefined;
      if (!key || !Array.isArray(original)) {
        return stripDirectives(
          patch.filter(item => !(isObject(item) && item.$patch === 'delete')),
        );
      }
      return this.mergeKeyedList(original, patch, key, path);
    }
    return patch;
  }

  private mergeKeyedList(
    original: Json[],
    patch: Json[],
    key: string,
    path: string[],
  ): Json[] {
    const result = [...original];
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined) {
        result.push(stripDirectives(item));
        continue;
      }
      const index = result.findIndex(
        existing => isObject(existing) && existing[key] === item[key],
      );
      if (item.$patch === 'delete') {
        if (index !== -1) result.splice(index, 1);
      } else if (index === -1) {
        result.push(stripDirectives(item));
      } else {
        result[index] = this.mergeObject(
          result[index] as JsonObject,
          item,
          path,
        );
      }
    }
    return result;
  }

  private mergeKey(
    path: string[],
    original: Json[],
    patch: Json[],
  ): string | undefined {
    const field = path[path.length - 1];
    if (this.builtin) {
      if (field === 'ports') {
        return this.gvk.kind === 'Service' && path.join('.') === 'spec.ports'
          ? 'port'
          : 'containerPort';
      }
      return KEYED_LISTS[field];
    }
    const items = [...original, ...patch];
    if (items.length === 0 || !items.every(isObject)) return undefined;
    return ASSOCIATIVE_KEYS.find(key =>
      items.every(
        item =>
          (item as JsonObject)[key] !== undefined ||
          (item as JsonObject).$patch !== undefined,
      ),
    );
  }
}

export const DELETE_RESOURCE = Symbol('delete resource');

/** Applies `patch` to `target` (both plain JSON); DELETE_RESOURCE when the patch says `$patch: delete`. */
export function strategicMerge(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
  gvk: Gvk,
): Record<string, unknown> | typeof DELETE_RESOURCE {
  if (patch.$patch === 'delete') return DELETE_RESOURCE;
  const merger = new StrategicMerger(gvk);
  return merger.mergeObject(target as JsonObject, patch as JsonObject, []);
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  const result: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    if (!key.startsWith('$') && child !== null)
      result[key] = stripDirectives(child);
  }
  return result;
}
