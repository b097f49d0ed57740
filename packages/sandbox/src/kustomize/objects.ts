import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/types';
import { KustomizeBuildError } from './errors';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The non-empty documents of a YAML stream, as plain values. */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  const documents = parseAllDocuments(text, { merge: true });
  const values: unknown[] = [];
  for (const document of documents) {
    const [error] = document.errors;
    if (error) {
      throw new KustomizeBuildError(
        `MalformedYAMLError: ${error.message} in File: ${source}`,
      );
    }
    const value = document.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

type TypedValue = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
};

function hasTypeMeta(value: unknown): value is TypedValue {
  return (
    isPlainObject(value) &&
    typeof value.apiVersion === 'string' &&
    typeof value.kind === 'string'
  );
}

/** Whether every document of the file is a Kubernetes object (what Flux's generator includes). */
export function isKubernetesManifest(text: string, source: string): boolean {
  try {
    const documents = parseYamlDocuments(text, source);
    return documents.length > 0 && documents.every(hasTypeMeta);
  } catch {
    return false;
  }
}

/** Reads Kubernetes objects from a YAML stream, expanding `kind: *List` documents. */
export function parseKubeObjects(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  const add = (value: unknown) => {
    if (!hasTypeMeta(value)) {
      throw new KustomizeBuildError(
        `missing Resource metadata (apiVersion and kind) in object ${JSON.stringify(
          value,
        )} in File: ${source}`,
      );
    }
    if (value.kind.endsWith('List') && Array.isArray(value.items)) {
      value.items.forEach(add);
      return;
    }
    const metadata = value.metadata;
    if (
      !isPlainObject(metadata) ||
      typeof metadata.name !== 'string' ||
      metadata.name === ''
    ) {
      throw new KustomizeBuildError(
        `missing metadata.name in object {{${value.apiVersion} ${value.kind}}} in File: ${source}`,
      );
    }
    objects.push(value as unknown as KubeObject);
  };
  parseYamlDocuments(text, source).forEach(add);
  return objects;
}
