/**
 * Catalog annotations read by the GitOps plugins. Declared once here; the backend,
 * the frontend and the scaffolder module all import them from this package.
 */

/**
 * Delivery repositories of the entity: one or more comma-separated URLs, Git
 * (`https://…`, `ssh://…`) or OCI (`oci://…`). Flux sources whose `spec.url` points
 * at one of them are this entity's.
 *
 * @public
 */
export const ANNOTATION_DELIVERY_REPOSITORIES =
  'gitops.backstage.io/delivery-repositories';

/**
 * Optional path inside the delivery repositories (for example `apps/podinfo`): only
 * Kustomizations whose `spec.path` lies under it belong to the entity.
 *
 * @public
 */
export const ANNOTATION_DELIVERY_PATH = 'gitops.backstage.io/delivery-path';

/**
 * Optional Git ref (branch or tag) of the delivery repositories; defaults to the
 * ref each Flux source follows.
 *
 * @public
 */
export const ANNOTATION_DELIVERY_REF = 'gitops.backstage.io/delivery-ref';

/**
 * Optional comma-separated cluster names the entity deploys to; defaults to every
 * configured cluster.
 *
 * @public
 */
export const ANNOTATION_CLUSTERS = 'gitops.backstage.io/clusters';

/**
 * The Kubernetes plugin's own annotation: objects labelled
 * `backstage.io/kubernetes-id=<value>` belong to the entity.
 *
 * @public
 */
export const ANNOTATION_KUBERNETES_ID = 'backstage.io/kubernetes-id';

/**
 * On a Flux GitRepository or OCIRepository: `disabled` keeps the GitOps backend from
 * managing a webhook Receiver for it.
 *
 * @public
 */
export const ANNOTATION_RECEIVER = 'gitops.backstage.io/receiver';
