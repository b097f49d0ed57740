import { createHash } from 'node:crypto';
import type { Resource } from './resource';
import type { ResourceList } from './resourceList';

// Go's encoding/json sorts map keys and escapes <, >, &, U+2028 and U+2029.
function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map(
        key =>
          `${goJson(key)}:${goJson((value as Record<string, unknown>)[key])}`,
      );
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null).replace(
    /[<>&\u2028\u2029]/g,
    char => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** kustomize's hasher.Encode: the first 10 hex digits with some letters swapped to avoid words. */
function encodeHash(hex: string): string {
  const swaps: Record<string, string> = {
    '0': 'g',
    '1': 'h',
    '3': 'k',
    a: 'm',
    e: 't',
  };
  return [...hex.slice(0, 10)].map(char => swaps[char] ?? char).join('');
}

const orEmpty = (value: unknown) => value ?? '';

/** The content hash kustomize appends to generated ConfigMap and Secret names. */
export function contentHash(resource: Resource): string {
  const { object } = resource;
  let encoded: Record<string, unknown>;
  if (object.kind === 'ConfigMap') {
    encoded = {
      kind: 'ConfigMap',
      name: object.metadata.name,
      data: orEmpty(object.data),
    };
    if (object.binaryData && typeof object.binaryData === 'object')
      encoded.binaryData = object.binaryData;
  } else if (object.kind === 'Secret') {
    encoded = {
      kind: 'Secret',
      type: orEmpty(object.type),
      name: object.metadata.name,
      data: orEmpty(object.data),
    };
    if (object.stringData && typeof object.stringData === 'object')
      encoded.stringData = object.stringData;
  } else {
    encoded = object;
  }
  return encodeHash(createHash('sha256').update(goJson(encoded)).digest('hex'));
}

export function addHashSuffixes(list: ResourceList): void {
  for (const resource of list.all()) {
    if (resource.needsHashSuffix)
      resource.rename({ name: `${resource.name}-${contentHash(resource)}` });
  }
}
