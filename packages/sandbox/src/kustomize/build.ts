import type { KubeObject } from '../kube/types';
import { BuildFs } from './buildFs';
import { KustomizeBuildError, wrapBuildError } from './errors';
import { runGenerators } from './generators';
import { addHashSuffixes } from './hashSuffix';
import type {
  ImageEntry,
  Kustomization,
  PatchEntry,
} from './kustomizationFile';
import {
  generateFluxKustomization,
  readKustomization,
} from './loadKustomization';
import { fixNameReferences } from './nameReferences';
import { parseKubeObjects } from './objects';
import {
  applyPatches,
  applyPatchesJson6902,
  applyPatchesStrategicMerge,
} from './patches';
import { Resource } from './resource';
import { ResourceList } from './resourceList';
import { legacySort } from './sort';
import {
  applyAnnotations,
  applyImages,
  applyLabels,
  applyNamePrefixSuffix,
  applyNamespace,
  applyReplicas,
} from './transformers';

/**
 * What a Flux Kustomization adds to the kustomization at its path (`spec.targetNamespace`,
 * `namePrefix`, `nameSuffix`, `patches`, `images`, `components`), merged the way Flux's
 * generator rewrites kustomization.yaml before building.
 */
export interface KustomizationOverrides {
  namespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: PatchEntry[];
  images?: ImageEntry[];
  components?: string[];
}

const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/|gitlab\.com\/)/i;

function withOverrides(
  k: Kustomization,
  overrides: KustomizationOverrides | undefined,
): Kustomization {
  if (!overrides) return k;
  const images = [...(k.images ?? [])];
  for (const image of overrides.images ?? []) {
    const index = images.findIndex(existing => existing.name === image.name);
    if (index === -1) images.push(image);
    else images[index] = image;
  }
  return {
    ...k,
    namespace: overrides.namespace || k.namespace,
    namePrefix: overrides.namePrefix || k.namePrefix,
    nameSuffix: overrides.nameSuffix || k.nameSuffix,
    patches: [...(k.patches ?? []), ...(overrides.patches ?? [])],
    images,
    components: [...(k.components ?? []), ...(overrides.components ?? [])],
  };
}

/** kustomize leaves out objects marked as local configuration (e.g. KRM function configs). */
function dropLocalConfig(list: ResourceList): void {
  for (const resource of list.all()) {
    if (
      resource.annotations()['config.kubernetes.io/local-config'] === 'true'
    ) {
      list.remove(resource);
    }
  }
}

class Builder {
  private readonly visiting: string[] = [];

  constructor(private readonly fs: BuildFs) {}

  /** kustomize's accumulateTarget: resources, components, generators, then transformers. */
  async accumulateTarget(
    dir: string,
    k: Kustomization,
    list: ResourceList,
  ): Promise<void> {
    if (this.visiting.includes(dir)) {
      throw new KustomizeBuildError(
        `cycle detected: candidate root '${dir}' contains visited root '${dir}'`,
      );
    }
    this.visiting.push(dir);
    try {
      try {
        await this.accumulateResources(
          dir,
          [...(k.resources ?? []), ...(k.bases ?? [])],
          list,
        );
      } catch (error) {
        throw wrapBuildError('accumulating resources', error);
      }
      try {
        await this.accumulateComponents(dir, k.components ?? [], list);
      } catch (error) {
        throw wrapBuildError('accumulating components', error);
      }
      await runGenerators(this.fs, dir, k, list);
      await this.runTransformers(dir, k, list);
      dropLocalConfig(list);
    } finally {
      this.visiting.pop();
    }
  }

  private async runTransformers(
    dir: string,
    k: Kustomization,
    list: ResourceList,
  ): Promise<void> {
    await applyPatchesStrategicMerge(this.fs, dir, k, list);
    await applyPatches(this.fs, dir, k, list);
    applyNamespace(list, k.namespace);
    applyNamePrefixSuffix(list, k.namePrefix, k.nameSuffix);
    applyLabels(list, k);
    applyAnnotations(list, k.commonAnnotations);
    await applyPatchesJson6902(this.fs, dir, k, list);
    applyReplicas(list, k.replicas);
    applyImages(list, k.images);
  }

  private async accumulateResources(
    dir: string,
    entries: string[],
    list: ResourceList,
  ): Promise<void> {
    for (const entry of entries) {
      // kustomize tries each entry as a file, then as a directory, and reports both failures.
      const failure = (asFile: string, asDirectory?: string) =>
        new KustomizeBuildError(
          `accumulation err='accumulating resources from '${entry}': ${asFile}'${
            asDirectory ? `: ${asDirectory}` : ''
          }`,
        );
      if (REMOTE.test(entry)) {
        throw failure(
          "remote resources are not supported by the sandbox's kustomize",
        );
      }
      let path: string;
      try {
        path = await this.fs.resolve(dir, entry);
      } catch (error) {
        throw failure((error as Error).message);
      }
      const kind = await this.fs.kindOf(path);
      if (kind === undefined) {
        throw failure(
          `open ${path}: no such file or directory`,
          `must build at directory: not a valid directory: evalsymlink failure on '${path}' : lstat ${path}: no such file or directory`,
        );
      }
      if (kind === 'file') {
        try {
          const objects = parseKubeObjects(await this.fs.readText(path), entry);
          list.appendAll(objects.map(object => new Resource(object)));
        } catch (error) {
          throw wrapBuildError(`accumulating resources from '${entry}'`, error);
        }
        continue;
      }
      const asFile = `read ${path}: is a directory`;
      const sub = await readKustomization(this.fs, path);
      if (!sub) {
        throw failure(
          asFile,
          `couldn't make target for path '${path}': unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '${path}'`,
        );
      }
      if (sub.kind === 'Component') {
        throw failure(
          asFile,
          `expected kind != 'Component' for path '${path}'`,
        );
      }
      const subList = new ResourceList();
      try {
        await this.accumulateTarget(path, sub, subList);
      } catch (error) {
        throw failure(
          asFile,
          `recursed accumulation of path '${path}': ${
            (error as Error).message
          }`,
        );
      }
      try {
        list.appendAll(subList.all());
      } catch (error) {
        throw failure(
          asFile,
          `recursed merging from path '${path}': ${(error as Error).message}`,
        );
      }
    }
  }

  /** Components work on the including kustomization's resources, not on their own copy. */
  private async accumulateComponents(
    dir: string,
    entries: string[],
    list: ResourceList,
  ): Promise<void> {
    for (const entry of entries) {
      const path = await this.fs.resolve(dir, entry);
      const component =
        (await this.fs.kindOf(path)) === 'directory'
          ? await readKustomization(this.fs, path)
          : undefined;
      if (!component) {
        throw new KustomizeBuildError(
          `loader.New "must build at directory: '${path}': unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization'"`,
        );
      }
      if (component.kind !== 'Component') {
        throw new KustomizeBuildError(
          `expected kind 'Component' for path '${path}' but got '${component.kind}'`,
        );
      }
      try {
        await this.accumulateTarget(path, component, list);
      } catch (error) {
        throw wrapBuildError(
          `accumulateDirectory: "recursed accumulation of path '${path}'`,
          error,
        );
      }
    }
  }
}

/**
 * `kustomize build` of `path` inside `rootDir` (a source artifact), as Flux's
 * kustomize-controller runs it: a directory without a kustomization gets one generated
 * from its manifests, nothing outside `rootDir` may be read, and the result comes in
 * kustomize's legacy order.
 */
export async function buildKustomization(
  rootDir: string,
  path: string,
  overrides?: KustomizationOverrides,
): Promise<KubeObject[]> {
  try {
    const fs = await BuildFs.create(rootDir);
    const dir = await fs.resolve(fs.root, path.replace(/^\/+/, '') || '.');
    if ((await fs.kindOf(dir)) !== 'directory') {
      throw new KustomizeBuildError(
        `kustomization path not found: stat ${dir}: no such file or directory`,
      );
    }
    const kustomization =
      (await readKustomization(fs, dir)) ??
      (await generateFluxKustomization(fs, dir));
    const list = new ResourceList();
    await new Builder(fs).accumulateTarget(
      dir,
      withOverrides(kustomization, overrides),
      list,
    );
    addHashSuffixes(list);
    fixNameReferences(list);
    return legacySort(list.all()).map(resource => resource.object);
  } catch (error) {
    // File system surprises (permissions, races) still reach callers as build failures.
    throw error instanceof KustomizeBuildError
      ? error
      : new KustomizeBuildError((error as Error).message);
  }
}
