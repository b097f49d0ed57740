import { basename } from 'node:path';
import type { KubeObject } from '../kube/types';
import type { BuildFs } from './buildFs';
import { KustomizeBuildError } from './errors';
import type {
  GeneratorArgs,
  GeneratorOptions,
  Kustomization,
  SecretGeneratorArgs,
} from './kustomizationFile';
import { Resource } from './resource';
import type { ResourceList } from './resourceList';

interface GeneratedData {
  data: Record<string, string>;
  binaryData: Record<string, string>;
}

const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function stringMap(
  values: Record<string, unknown> | undefined,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values ?? {}).map(([k, v]) => [k, String(v)]),
  );
}

function parseLiteral(source: string): [string, string] {
  const equals = source.indexOf('=');
  if (equals <= 0) {
    throw new KustomizeBuildError(
      `invalid literal source ${source}, expected key=value`,
    );
  }
  const key = source.slice(0, equals);
  let value = source.slice(equals + 1);
  // kustomize strips one pair of matching surrounding quotes.
  if (
    value.length >= 2 &&
    (value[0] === '"' || value[0] === "'") &&
    value.endsWith(value[0])
  ) {
    value = value.slice(1, -1);
  }
  return [key, value];
}

function parseFileSource(source: string): [string, string] {
  const equals = source.indexOf('=');
  if (equals === -1) return [basename(source), source];
  const key = source.slice(0, equals);
  const path = source.slice(equals + 1);
  if (!key || !path) {
    throw new KustomizeBuildError(`key or file path is missing in '${source}'`);
  }
  return [key, path];
}

/** An env file: KEY=VALUE lines; `#` comments and blank lines skipped; a bare KEY takes the process environment's value. */
function parseEnvFile(text: string, path: string): [string, string][] {
  const pairs: [string, string][] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((rawLine, index) => {
      const line = rawLine.trimStart();
      if (line === '' || line.startsWith('#')) return;
      const equals = line.indexOf('=');
      if (equals === -1) {
        const value = process.env[line.trim()];
        if (value !== undefined) pairs.push([line.trim(), value]);
        return;
      }
      const key = line.slice(0, equals);
      if (!key || /\s/.test(key)) {
        throw new KustomizeBuildError(
          `line ${index + 1} of ${path}: invalid key '${key}'`,
        );
      }
      pairs.push([key, line.slice(equals + 1)]);
    });
  return pairs;
}

async function collectData(
  fs: BuildFs,
  dir: string,
  args: GeneratorArgs,
): Promise<GeneratedData> {
  const result: GeneratedData = { data: {}, binaryData: {} };
  const put = (key: string, value: string, binary = false) => {
    if (!DATA_KEY.test(key)) {
      throw new KustomizeBuildError(
        `"${key}" is not a valid key name for a ${args.name}: a valid key must consist of alphanumeric characters, '-', '_' or '.'`,
      );
    }
    if (key in result.data || key in result.binaryData) {
      throw new KustomizeBuildError(
        `cannot add key ${key}, another key by that name already exists in ${args.name}`,
      );
    }
    (binary ? result.binaryData : result.data)[key] = value;
  };
  for (const envFile of [
    ...(args.env ? [args.env] : []),
    ...(args.envs ?? []),
  ]) {
    const path = await fs.resolve(dir, envFile);
    for (const [key, value] of parseEnvFile(await fs.readText(path), envFile))
      put(key, value);
  }
  for (const literal of args.literals ?? []) put(...parseLiteral(literal));
  for (const source of args.files ?? []) {
    const [key, relativePath] = parseFileSource(source);
    const content = await fs.readBytes(await fs.resolve(dir, relativePath));
    try {
      put(key, utf8.decode(content));
    } catch (error) {
      if (error instanceof KustomizeBuildError) throw error;
      put(key, content.toString('base64'), true);
    }
  }
  return result;
}

function mergeOptions(
  global: GeneratorOptions | undefined,
  local: GeneratorOptions | undefined,
): GeneratorOptions {
  return {
    labels: { ...global?.labels, ...local?.labels },
    annotations: { ...global?.annotations, ...local?.annotations },
    disableNameSuffixHash:
      local?.disableNameSuffixHash ?? global?.disableNameSuffixHash,
    immutable: local?.immutable ?? global?.immutable,
  };
}

function metadataFor(
  args: GeneratorArgs,
  options: GeneratorOptions,
): KubeObject['metadata'] {
  const metadata: KubeObject['metadata'] = { name: args.name };
  if (args.namespace) metadata.namespace = args.namespace;
  const labels = stringMap(options.labels);
  const annotations = stringMap(options.annotations);
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  return metadata;
}

async function generateConfigMap(
  fs: BuildFs,
  dir: string,
  args: GeneratorArgs,
  k: Kustomization,
) {
  const options = mergeOptions(k.generatorOptions, args.options);
  const { data, binaryData } = await collectData(fs, dir, args);
  const object: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadataFor(args, options),
  };
  if (Object.keys(data).length > 0) object.data = data;
  if (Object.keys(binaryData).length > 0) object.binaryData = binaryData;
  if (options.immutable) object.immutable = true;
  return new Resource(object, !options.disableNameSuffixHash);
}

async function generateSecret(
  fs: BuildFs,
  dir: string,
  args: SecretGeneratorArgs,
  k: Kustomization,
) {
  const options = mergeOptions(k.generatorOptions, args.options);
  const { data, binaryData } = await collectData(fs, dir, args);
  const encoded: Record<string, string> = { ...binaryData };
  for (const [key, value] of Object.entries(data)) {
    encoded[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  const object: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadataFor(args, options),
    type: args.type ?? 'Opaque',
  };
  if (Object.keys(encoded).length > 0) object.data = encoded;
  if (options.immutable) object.immutable = true;
  return new Resource(object, !options.disableNameSuffixHash);
}

/** Adds a generated resource the way kustomize absorbs generator output (behavior create/merge/replace). */
function absorb(
  list: ResourceList,
  generated: Resource,
  behavior: GeneratorArgs['behavior'],
): void {
  const matches = list.matchingAnyId(generated.gvk, generated.current);
  const mode = behavior ?? 'create';
  if (mode === 'create') {
    list.append(generated);
    return;
  }
  if (matches.length !== 1) {
    throw new KustomizeBuildError(
      matches.length === 0
        ? `id ${generated.idString()} does not exist; cannot merge or replace`
        : `multiple matches for id ${generated.idString()}; cannot merge or replace`,
    );
  }
  const [existing] = matches;
  const merged = existing.object;
  const incoming = generated.object;
  if (mode === 'replace') {
    delete merged.data;
    delete merged.binaryData;
  }
  for (const field of ['data', 'binaryData'] as const) {
    const values = incoming[field] as Record<string, string> | undefined;
    if (values)
      merged[field] = {
        ...(merged[field] as Record<string, string> | undefined),
        ...values,
      };
  }
  if (incoming.type !== undefined && mode === 'replace')
    merged.type = incoming.type;
  for (const field of ['labels', 'annotations'] as const) {
    const values = incoming.metadata[field];
    if (values)
      merged.metadata[field] = { ...merged.metadata[field], ...values };
  }
  existing.needsHashSuffix =
    existing.needsHashSuffix || generated.needsHashSuffix;
}

/** Runs configMapGenerator then secretGenerator of one kustomization. */
export async function runGenerators(
  fs: BuildFs,
  dir: string,
  k: Kustomization,
  list: ResourceList,
): Promise<void> {
  for (const args of k.configMapGenerator ?? []) {
    absorb(list, await generateConfigMap(fs, dir, args, k), args.behavior);
  }
  for (const args of k.secretGenerator ?? []) {
    absorb(list, await generateSecret(fs, dir, args, k), args.behavior);
  }
}
