import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { CachedFluxObject } from '../cache/types';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';

function trimPath(path: string): string {
  return path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
}

/**
 * The entity whose delivery of `source`'s repository holds the Kustomization's path on
 * `cluster`, else the only entity registered for that repository there, else undefined.
 */
export async function deliveryEntityOf(
  deliveries: Pick<DeliveryRepositoryStore, 'list'>,
  cluster: string,
  source: CachedFluxObject,
  kustomization?: CachedFluxObject,
): Promise<string | undefined> {
  let normalizedUrl: string;
  try {
    normalizedUrl = parseRepositoryUrl(String(source.spec.url)).normalized;
  } catch {
    return undefined;
  }
  const candidates = (await deliveries.list({ normalizedUrl })).filter(
    d => !d.clusters || d.clusters.includes(cluster),
  );
  const path = trimPath(String(kustomization?.spec.path ?? ''));
  const byPath = candidates.find(d => {
    if (!d.path) return false;
    const base = trimPath(d.path);
    return path === base || path.startsWith(`${base}/`);
  });
  const entities = new Set(candidates.map(d => d.entityRef));
  return (
    byPath?.entityRef ?? (entities.size === 1 ? [...entities][0] : undefined)
  );
}
