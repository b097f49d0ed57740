import { isDeepStrictEqual } from 'node:util';

/** RFC 6902 JSON Patch, with the error wording of evanphx/json-patch that kustomize reports. */

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

const OPERATIONS = new Set([
  'add',
  'remove',
  'replace',
  'move',
  'copy',
  'test',
]);

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new Error(`invalid JSON pointer '${pointer}'`);
  return pointer
    .slice(1)
    .split('/')
    .map(token => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Validates the shape of a parsed patch document. */
export function asJsonPatch(value: unknown): JsonPatchOperation[] {
  if (!Array.isArray(value))
    throw new Error('a JSON 6902 patch must be a list of operations');
  for (const operation of value) {
    if (
      typeof operation !== 'object' ||
      operation === null ||
      !OPERATIONS.has((operation as JsonPatchOperation).op) ||
      typeof (operation as JsonPatchOperation).path !== 'string'
    ) {
      throw new Error(
        `unexpected kind of JSON 6902 operation: ${JSON.stringify(operation)}`,
      );
    }
  }
  return value as JsonPatchOperation[];
}

/** Applies the operations to a copy of `document`. */
export function applyJsonPatch<T>(
  document: T,
  operations: JsonPatchOperation[],
): T {
  let root: unknown = clone(document);
  for (const operation of operations) {
    root = applyOperation(root, operation);
  }
  return root as T;
}

function locate(
  root: unknown,
  tokens: string[],
  op: string,
  path: string,
): { parent: Container; key: string } {
  let current: unknown = root;
  for (const token of tokens.slice(0, -1)) {
    const next = isContainer(current) ? childOf(current, token) : undefined;
    if (!isContainer(next)) {
      throw new Error(
        `${op} operation does not apply: doc is missing path: "${path}": missing value`,
      );
    }
    current = next;
  }
  if (!isContainer(current)) {
    throw new Error(
      `${op} operation does not apply: doc is missing path: "${path}": missing value`,
    );
  }
  return { parent: current, key: tokens[tokens.length - 1] };
}

function childOf(container: Container, token: string): unknown {
  if (Array.isArray(container)) {
    return /^\d+$/.test(token) ? container[Number(token)] : undefined;
  }
  return Object.prototype.hasOwnProperty.call(container, token)
    ? container[token]
    : undefined;
}

function getValue(root: unknown, path: string, op: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return root;
  const { parent, key } = locate(root, tokens, op, path);
  const value = childOf(parent, key);
  if (value === undefined) {
    throw new Error(
      `${op} operation does not apply: doc is missing path: "${path}": missing value`,
    );
  }
  return value;
}

function addValue(
  root: unknown,
  path: string,
  value: unknown,
  op: string,
): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(root, tokens, op, path);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!/^(\d+|-)$/.test(key) || index > parent.length) {
      throw new Error(
        `${op} operation does not apply: doc is missing path: "${path}": index out of range`,
      );
    }
    parent.splice(index, 0, value);
  } else {
    parent[key] = value;
  }
  return root;
}

function removeValue(root: unknown, path: string, op: string): unknown {
  const tokens = parsePointer(path);
  const { parent, key } = locate(root, tokens, op, path);
  if (childOf(parent, key) === undefined) {
    throw new Error(
      `${op} operation does not apply: doc is missing path: "${path}": missing value`,
    );
  }
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
  return root;
}

function applyOperation(root: unknown, operation: JsonPatchOperation): unknown {
  const { op, path } = operation;
  switch (op) {
    case 'add':
      return addValue(root, path, clone(operation.value), op);
    case 'remove':
      return removeValue(root, path, op);
    case 'replace': {
      getValue(root, path, op);
      const tokens = parsePointer(path);
      if (tokens.length === 0) return clone(operation.value);
      const { parent, key } = locate(root, tokens, op, path);
      if (Array.isArray(parent)) parent[Number(key)] = clone(operation.value);
      else parent[key] = clone(operation.value);
      return root;
    }
    case 'move': {
      const from = operation.from ?? '';
      const value = getValue(root, from, op);
      return addValue(removeValue(root, from, op), path, value, op);
    }
    case 'copy':
      return addValue(
        root,
        path,
        clone(getValue(root, operation.from ?? '', op)),
        op,
      );
    case 'test': {
      const actual = getValue(root, path, op);
      if (!isDeepStrictEqual(actual, operation.value)) {
        throw new Error(`testing value ${path} failed: test failed`);
      }
      return root;
    }
    default:
      throw new Error(`unexpected kind of JSON 6902 operation: ${String(op)}`);
  }
}
