import { relative } from 'node:path';
import { parse, type ScalarTag } from 'yaml';
import type { BuildFs } from './buildFs';
import { KustomizeBuildError } from './errors';
import {
  KNOWN_FIELDS,
  type Kustomization,
  UNSUPPORTED_FIELDS,
} from './kustomizationFile';
import { isKubernetesManifest } from './objects';

const FLOAT_TAG = 'tag:yaml.org,2002:float';

/**
 * kustomization.yaml has no float fields, but Go reads `newTag: 1.10` as the string
 * "1.10"; keeping floats as their source text avoids turning it into 1.1.
 */
function parseKustomizationYaml(text: string, path: string): unknown {
  try {
    return parse(text, {
      customTags: tags =>
        tags.map(tag =>
          typeof tag === 'object' && (tag as ScalarTag).tag === FLOAT_TAG
            ? { ...(tag as ScalarTag), resolve: (source: string) => source }
            : tag,
        ),
    });
  } catch (error) {
    throw new KustomizeBuildError(
      `MalformedYAMLError: ${(error as Error).message} in File: ${path}`,
    );
  }
}

const LIST_FIELDS = [
  'resources',
  'bases',
  'components',
  'labels',
  'patches',
  'patchesStrategicMerge',
  'patchesJson6902',
  'images',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
  'buildMetadata',
];
const MAP_FIELDS = [
  'metadata',
  'commonLabels',
  'commonAnnotations',
  'generatorOptions',
];
const STRING_FIELDS = [
  'apiVersion',
  'kind',
  'namespace',
  'namePrefix',
  'nameSuffix',
];
const IMAGE_STRING_FIELDS = ['name', 'newName', 'newTag', 'digest'] as const;

function goTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Rejects values Go's decoder would refuse, and stringifies scalars it would read as strings. */
function checkFieldTypes(k: Record<string, unknown>): void {
  const mismatch = (field: string, expected: string) =>
    new KustomizeBuildError(
      `invalid Kustomization: json: cannot unmarshal ${goTypeName(
        k[field],
      )} into Go struct field Kustomization.${field} of type ${expected}`,
    );
  for (const field of LIST_FIELDS) {
    if (
      k[field] !== undefined &&
      k[field] !== null &&
      !Array.isArray(k[field])
    ) {
      throw mismatch(field, '[]');
    }
  }
  for (const field of MAP_FIELDS) {
    const value = k[field];
    if (
      value !== undefined &&
      value !== null &&
      (typeof value !== 'object' || Array.isArray(value))
    ) {
      throw mismatch(field, 'map');
    }
  }
  for (const field of STRING_FIELDS) {
    const value = k[field];
    if (typeof value === 'number' || typeof value === 'boolean')
      k[field] = String(value);
    else if (value !== undefined && value !== null && typeof value !== 'string')
      throw mismatch(field, 'string');
  }
  for (const image of (k.images as Record<string, unknown>[] | undefined) ??
    []) {
    for (const field of IMAGE_STRING_FIELDS) {
      if (typeof image?.[field] === 'number')
        image[field] = String(image[field]);
    }
  }
}

function validate(value: unknown, path: string): Kustomization {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new KustomizeBuildError(
      `invalid Kustomization in ${path}: expected a map`,
    );
  }
  for (const field of Object.keys(value)) {
    if (UNSUPPORTED_FIELDS.includes(field)) {
      throw new KustomizeBuildError(
        `invalid Kustomization in ${path}: the field '${field}' is not supported by the sandbox's kustomize`,
      );
    }
    if (!KNOWN_FIELDS.has(field)) {
      throw new KustomizeBuildError(
        `invalid Kustomization: json: unknown field "${field}"`,
      );
    }
  }
  checkFieldTypes(value as Record<string, unknown>);
  const kustomization = value as Kustomization;
  const kind = kustomization.kind ?? 'Kustomization';
  if (kind !== 'Kustomization' && kind !== 'Component') {
    throw new KustomizeBuildError(
      `invalid Kustomization in ${path}: unknown kind '${kind}'`,
    );
  }
  return { ...kustomization, kind };
}

/** Reads and checks the kustomization file of `dir`; undefined when it has none. */
export async function readKustomization(
  fs: BuildFs,
  dir: string,
): Promise<Kustomization | undefined> {
  const file = await fs.kustomizationFileIn(dir);
  if (!file) return undefined;
  return validate(parseKustomizationYaml(await fs.readText(file), file), file);
}

/**
 * What Flux's kustomize-controller generates for a directory without a kustomization:
 * every YAML file holding Kubernetes objects, recursively; a sub-directory with its own
 * kustomization becomes one resource and is not descended into.
 */
export async function generateFluxKustomization(
  fs: BuildFs,
  dir: string,
): Promise<Kustomization> {
  const resources: string[] = [];
  const scan = async (current: string) => {
    for (const entry of await fs.list(current)) {
      const path = `${current}/${entry.name}`;
      if (entry.isDirectory) {
        if (await fs.kustomizationFileIn(path))
          resources.push(relative(dir, path));
        else await scan(path);
      } else if (entry.isFile && /\.ya?ml$/.test(entry.name)) {
        if (isKubernetesManifest(await fs.readText(path), path))
          resources.push(relative(dir, path));
      }
    }
  };
  await scan(dir);
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources,
  };
}
