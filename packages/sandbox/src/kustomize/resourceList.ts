import { KustomizeBuildError } from './errors';
import {
  type Gvk,
  Resource,
  type ResourceName,
  sameNamespace,
} from './resource';

function sameGvk(a: Gvk, b: Gvk): boolean {
  return a.group === b.group && a.version === b.version && a.kind === b.kind;
}

function sameName(a: ResourceName, b: ResourceName): boolean {
  return a.name === b.name && sameNamespace(a.namespace, b.namespace);
}

/** kustomize's ResMap: resources in insertion order, unique by current id. */
export class ResourceList {
  private items: Resource[] = [];

  all(): Resource[] {
    return [...this.items];
  }

  get size(): number {
    return this.items.length;
  }

  append(resource: Resource): void {
    const clash = this.items.find(
      existing =>
        sameGvk(existing.gvk, resource.gvk) &&
        sameName(existing.current, resource.current),
    );
    if (clash) {
      throw new KustomizeBuildError(
        `may not add resource with an already registered id: ${resource.idString()}`,
      );
    }
    this.items.push(resource);
  }

  appendAll(resources: Iterable<Resource>): void {
    for (const resource of resources) this.append(resource);
  }

  remove(resource: Resource): void {
    this.items = this.items.filter(item => item !== resource);
  }

  /** Resources that have or had this id (kustomize's GetMatchingResourcesByAnyId). */
  matchingAnyId(gvk: Gvk, id: ResourceName): Resource[] {
    return this.items.filter(
      resource =>
        sameGvk(resource.gvk, gvk) &&
        resource.allIds().some(candidate => sameName(candidate, id)),
    );
  }
}
