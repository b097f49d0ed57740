import type { KubeObject } from '../kube/types';
import type { BuildFs } from './buildFs';
import { KustomizeBuildError } from './errors';
import {
  applyJsonPatch,
  asJsonPatch,
  type JsonPatchOperation,
} from './jsonPatch';
import type {
  Json6902PatchEntry,
  Kustomization,
  PatchEntry,
  TargetSelector,
} from './kustomizationFile';
import { parseYamlDocuments } from './objects';
import { gvkOf, resIdString, type Resource } from './resource';
import type { ResourceList } from './resourceList';
import { compileSelector } from './selectors';
import { DELETE_RESOURCE, strategicMerge } from './strategicMerge';

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type ParsedPatch =
  | { type: 'json6902'; operations: JsonPatchOperation[] }
  | { type: 'strategic'; documents: Node[] };

/** Tells a JSON 6902 patch (a list of operations) from strategic-merge documents. */
function parsePatch(text: string, source: string): ParsedPatch {
  const documents = parseYamlDocuments(text, source);
  if (documents.length === 1 && Array.isArray(documents[0])) {
    try {
      return { type: 'json6902', operations: asJsonPatch(documents[0]) };
    } catch (error) {
      throw new KustomizeBuildError(
        `unable to parse SM or JSON patch from [${text.trim()}]: ${
          (error as Error).message
        }`,
      );
    }
  }
  if (documents.length === 0 || !documents.every(isNode)) {
    throw new KustomizeBuildError(
      `unable to parse SM or JSON patch from [${text.trim()}]`,
    );
  }
  return { type: 'strategic', documents: documents as Node[] };
}

async function loadPatchText(
  fs: BuildFs,
  dir: string,
  entry: { path?: string; patch?: string },
): Promise<string> {
  const inline = entry.patch?.trim() ?? '';
  if (inline && entry.path)
    throw new KustomizeBuildError(
      `patch and path can't be set at the same time`,
    );
  if (inline) return inline;
  if (!entry.path)
    throw new KustomizeBuildError('must specify one of patch and path');
  return fs.readText(await fs.resolve(dir, entry.path));
}

/** The resource a target-less strategic-merge patch names by its own apiVersion, kind, name and namespace. */
function findPatchTarget(list: ResourceList, document: Node): Resource {
  const metadata = isNode(document.metadata) ? document.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const namespace =
    typeof metadata.namespace === 'string' ? metadata.namespace : '';
  const gvk = gvkOf({
    apiVersion: String(document.apiVersion ?? ''),
    kind: String(document.kind ?? ''),
    metadata: { name },
  });
  const matches = list.matchingAnyId(gvk, { name, namespace });
  if (matches.length !== 1) {
    const id = resIdString(gvk, { name, namespace });
    const problem = matches.length === 0 ? 'no matches' : 'multiple matches';
    throw new KustomizeBuildError(
      `unable to find patch target "${name}": ${problem} for Id ${id}; failed to find unique target for patch ${id}`,
    );
  }
  return matches[0];
}

interface PatchOptions {
  allowNameChange?: boolean;
  allowKindChange?: boolean;
}

function applyStrategic(
  list: ResourceList,
  resource: Resource,
  patch: Node,
  options: PatchOptions = {},
): void {
  const before = resource.object;
  const merged = strategicMerge(before, patch, resource.gvk);
  if (merged === DELETE_RESOURCE) {
    list.remove(resource);
    return;
  }
  const result = merged as KubeObject;
  const patchMetadata = isNode(patch.metadata) ? patch.metadata : {};
  const newName =
    options.allowNameChange && typeof patchMetadata.name === 'string'
      ? patchMetadata.name
      : before.metadata.name;
  if (!options.allowKindChange) {
    result.apiVersion = before.apiVersion;
    result.kind = before.kind;
  }
  // The patch's identity fields only select the target; they never rename it.
  result.metadata = { ...result.metadata, name: before.metadata.name };
  if (before.metadata.namespace)
    result.metadata.namespace = before.metadata.namespace;
  else delete result.metadata.namespace;
  resource.object = result;
  resource.rename({ name: newName });
}

function applyJson6902(
  resource: Resource,
  operations: JsonPatchOperation[],
): void {
  const before = resource.current;
  let patched: KubeObject;
  try {
    patched = applyJsonPatch(resource.object, operations);
  } catch (error) {
    throw new KustomizeBuildError(
      `unable to apply JSON 6902 patch to ${resource.idString()}: ${
        (error as Error).message
      }`,
    );
  }
  const after = {
    name: patched.metadata?.name,
    namespace: patched.metadata?.namespace ?? '',
  };
  patched.metadata = { ...patched.metadata, name: before.name };
  if (before.namespace) patched.metadata.namespace = before.namespace;
  else delete patched.metadata.namespace;
  resource.object = patched;
  resource.rename(after);
}

function selected(list: ResourceList, target: TargetSelector): Resource[] {
  const matches = compileSelector(target);
  return list.all().filter(matches);
}

/** `patchesStrategicMerge`: file paths or inline YAML, each document aimed at the object it names. */
export async function applyPatchesStrategicMerge(
  fs: BuildFs,
  dir: string,
  k: Kustomization,
  list: ResourceList,
) {
  for (const entry of k.patchesStrategicMerge ?? []) {
    const inline = entry.includes('\n') || entry.trimStart().startsWith('{');
    const text = inline
      ? entry
      : await fs.readText(await fs.resolve(dir, entry));
    const parsed = parsePatch(text, inline ? 'inline patch' : entry);
    if (parsed.type !== 'strategic') {
      throw new KustomizeBuildError(
        `patchesStrategicMerge entry '${
          inline ? 'inline' : entry
        }' is a JSON 6902 patch`,
      );
    }
    for (const document of parsed.documents)
      applyStrategic(list, findPatchTarget(list, document), document);
  }
}

/** `patches`: strategic-merge or JSON 6902, by target selector or (strategic only) by the patch's own id. */
export async function applyPatches(
  fs: BuildFs,
  dir: string,
  k: Kustomization,
  list: ResourceList,
) {
  for (const entry of k.patches ?? [])
    await applyPatchEntry(fs, dir, entry, list);
}

async function applyPatchEntry(
  fs: BuildFs,
  dir: string,
  entry: PatchEntry,
  list: ResourceList,
) {
  const text = await loadPatchText(fs, dir, entry);
  const parsed = parsePatch(text, entry.path ?? 'inline patch');
  if (parsed.type === 'json6902') {
    if (!entry.target)
      throw new KustomizeBuildError(`must specify a target for patch ${text}`);
    for (const resource of selected(list, entry.target))
      applyJson6902(resource, parsed.operations);
    return;
  }
  for (const document of parsed.documents) {
    if (!entry.target) {
      applyStrategic(
        list,
        findPatchTarget(list, document),
        document,
        entry.options,
      );
      continue;
    }
    for (const resource of selected(list, entry.target))
      applyStrategic(list, resource, document, entry.options);
  }
}

/** Legacy `patchesJson6902`: a target plus operations from `path` or inline `patch`. */
export async function applyPatchesJson6902(
  fs: BuildFs,
  dir: string,
  k: Kustomization,
  list: ResourceList,
) {
  for (const entry of (k.patchesJson6902 ?? []) as Json6902PatchEntry[]) {
    if (!entry.target)
      throw new KustomizeBuildError(
        'patchesJson6902 entries must have a target',
      );
    const text = await loadPatchText(fs, dir, entry);
    const parsed = parsePatch(text, entry.path ?? 'inline patch');
    if (parsed.type !== 'json6902') {
      throw new KustomizeBuildError(
        `patchesJson6902 entry for ${
          entry.target.name ?? entry.target.kind
        } is not a JSON 6902 patch`,
      );
    }
    for (const resource of selected(list, entry.target))
      applyJson6902(resource, parsed.operations);
  }
}
