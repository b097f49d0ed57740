import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/types';

/** The adopter-facing manifests in the repository's `deploy/kubernetes/`. */
const DEPLOY_DIR = join(
  dirname(require.resolve('@backstage-gitops/sandbox/package.json')),
  '../../deploy/kubernetes',
);

/** The tenant `deploy/kubernetes/tenant.yaml` is written for; its name is replaced per tenant. */
const EXAMPLE_TENANT = 'team-apps';

/**
 * The demo's teams and their Flux tenants on every cluster, as `flux create tenant` makes
 * them from `deploy/kubernetes/tenant.yaml`: each tenant, its namespace and its
 * ServiceAccount share one name. The Backstage config maps each owner to its namespace.
 */
export const DEMO_TENANTS = [
  { owner: 'group:default/team-apps', namespace: 'team-apps' },
  { owner: 'group:default/team-payments', namespace: 'team-payments' },
];

/** A tenant on a sandbox cluster: its namespace is named after it, as in the example. */
export interface SandboxTenant {
  name: string;
  namespace: string;
  /** The ServiceAccount its Kustomizations and HelmReleases impersonate. */
  serviceAccount: string;
}

export function readDeployManifest(file: 'rbac.yaml' | 'tenant.yaml'): string {
  return readFileSync(join(DEPLOY_DIR, file), 'utf8');
}

/**
 * `deploy/kubernetes/tenant.yaml` for tenant `name` (namespace `name`), as its comments
 * tell adopters: `team-apps` replaced everywhere.
 */
export function renderTenantManifest(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new Error(`Invalid tenant name "${name}"`);
  }
  return readDeployManifest('tenant.yaml').replaceAll(EXAMPLE_TENANT, name);
}

export function parseManifests(manifests: string): KubeObject[] {
  return parseAllDocuments(manifests)
    .map(document => {
      if (document.errors.length) {
        throw new Error(`Manifests: ${document.errors[0].message}`);
      }
      return document.toJS() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null);
}

export function sandboxTenant(name: string): SandboxTenant {
  return { name, namespace: name, serviceAccount: name };
}
