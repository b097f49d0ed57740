import { StoreError } from './types';

export type JsonObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every(
        key =>
          Object.prototype.hasOwnProperty.call(b, key) &&
          deepEqual(a[key], b[key]),
      )
    );
  }
  return false;
}

/** RFC 7386: objects merge recursively, `null` deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyMergePatch(result[key], value);
    }
  }
  return result;
}

/** The merge keys of the built-in list fields a strategic merge patch merges item by item. */
function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'conditions':
      return 'type';
    case 'ports':
      return items.some(item => isPlainObject(item) && 'containerPort' in item)
        ? 'containerPort'
        : 'port';
    default:
      return undefined;
  }
}

function mergeListByKey(
  current: unknown,
  patchItems: unknown[],
  key: string,
): unknown[] {
  const result = Array.isArray(current) ? [...current] : [];
  for (const item of patchItems) {
    if (!isPlainObject(item)) {
      result.push(item);
      continue;
    }
    const index = result.findIndex(
      existing => isPlainObject(existing) && existing[key] === item[key],
    );
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = applyStrategicMergePatch(result[index], item);
    } else {
      result.push(applyStrategicMergePatch({}, item));
    }
  }
  return result;
}

/**
 * A strategic merge patch for built-in kinds: a merge patch, except that the well-known
 * lists (containers, env, volumes, ports, conditions, ...) merge item by item on their key.
 */
export function applyStrategicMergePatch(
  target: unknown,
  patch: unknown,
): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [field, value] of Object.entries(patch)) {
    if (field.startsWith('$')) continue;
    if (value === null) {
      delete result[field];
      continue;
    }
    const key = Array.isArray(value) ? mergeKeyFor(field, value) : undefined;
    if (Array.isArray(value) && key) {
      result[field] = mergeListByKey(result[field], value, key);
    } else {
      result[field] = applyStrategicMergePatch(result[field], value);
    }
  }
  return result;
}

interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function patchError(message: string): StoreError {
  return new StoreError(422, 'Invalid', message);
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw patchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map(token => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(
  document: unknown,
  tokens: string[],
  pointer: string,
): unknown {
  let current = document;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isPlainObject(current)) current = current[token];
    else current = undefined;
    if (current === undefined) {
      throw patchError(`doc is missing path: "${pointer}": missing value`);
    }
  }
  return current;
}

function readPointer(document: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return document;
  const parent = parentOf(document, tokens, pointer);
  const last = tokens[tokens.length - 1];
  let value: unknown;
  if (Array.isArray(parent)) value = parent[Number(last)];
  else if (isPlainObject(parent)) value = parent[last];
  if (value === undefined)
    throw patchError(`doc is missing path: "${pointer}": missing value`);
  return value;
}

function arrayIndex(
  token: string,
  array: unknown[],
  allowEnd: boolean,
  pointer: string,
): number {
  if (allowEnd && token === '-') return array.length;
  const index = Number(token);
  const max = allowEnd ? array.length : array.length - 1;
  if (!/^\d+$/.test(token) || index > max) {
    throw patchError(
      `unable to access invalid index: ${token} in "${pointer}"`,
    );
  }
  return index;
}

function addAt(document: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = parentOf(document, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent))
    parent.splice(arrayIndex(last, parent, true, pointer), 0, value);
  else if (isPlainObject(parent)) parent[last] = value;
  else throw patchError(`doc is missing path: "${pointer}": missing value`);
  return document;
}

function removeAt(document: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  const parent = parentOf(document, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent, false, pointer), 1);
  } else if (isPlainObject(parent) && last in parent) {
    delete parent[last];
  } else {
    throw patchError(
      `unable to remove nonexistent key: ${last}: missing value`,
    );
  }
  return document;
}

/** RFC 6902 JSON Patch, applied to a copy. */
export function applyJsonPatch(
  document: unknown,
  operations: unknown,
): unknown {
  if (!Array.isArray(operations)) {
    throw new StoreError(
      400,
      'BadRequest',
      'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
    );
  }
  let result = structuredClone(document);
  for (const raw of operations as JsonPatchOperation[]) {
    if (!isPlainObject(raw) || typeof raw.path !== 'string') {
      throw new StoreError(
        400,
        'BadRequest',
        `invalid JSON patch operation ${JSON.stringify(raw)}`,
      );
    }
    switch (raw.op) {
      case 'add':
        result = addAt(result, raw.path, structuredClone(raw.value));
        break;
      case 'remove':
        result = removeAt(result, raw.path);
        break;
      case 'replace':
        if (raw.path === '') {
          result = structuredClone(raw.value);
          break;
        }
        readPointer(result, raw.path);
        result = removeAt(result, raw.path);
        result = addAt(result, raw.path, structuredClone(raw.value));
        break;
      case 'move': {
        const value = readPointer(result, raw.from ?? '');
        result = removeAt(result, raw.from ?? '');
        result = addAt(result, raw.path, value);
        break;
      }
      case 'copy':
        result = addAt(
          result,
          raw.path,
          structuredClone(readPointer(result, raw.from ?? '')),
        );
        break;
      case 'test':
        if (!deepEqual(readPointer(result, raw.path), raw.value)) {
          throw patchError(`testing value ${raw.path} failed: test failed`);
        }
        break;
      default:
        throw new StoreError(
          400,
          'BadRequest',
          `Unexpected kind: ${String((raw as { op: unknown }).op)}`,
        );
    }
  }
  return result;
}
