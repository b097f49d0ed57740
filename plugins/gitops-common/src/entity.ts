import { Entity } from '@backstage/catalog-model';
import {
  ANNOTATION_DELIVERY_REPOSITORIES,
  ANNOTATION_KUBERNETES_ID,
} from './annotations';

/**
 * Whether the entity carries the annotations the GitOps plugins work from.
 *
 * @public
 */
export function isGitOpsAvailable(entity: Entity): boolean {
  const annotations = entity.metadata.annotations ?? {};
  return Boolean(
    annotations[ANNOTATION_DELIVERY_REPOSITORIES]?.trim() ||
      annotations[ANNOTATION_KUBERNETES_ID]?.trim(),
  );
}
