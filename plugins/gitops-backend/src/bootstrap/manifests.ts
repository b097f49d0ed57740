import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { FIELD_MANAGER, MANAGED_BY_LABEL } from '../receivers/ReceiverManager';

/** What a cluster needs to follow a delivery repository. */
export interface ManifestInput {
  repository: ParsedRepositoryUrl;
  /** The URL as the caller wrote it: Flux gets exactly that. */
  url: string;
  name: string;
  namespace: string;
  /** Git branch or OCI tag. */
  ref: string;
  interval: string;
  /** The Kustomization's path in the repository, relative, without `./`. */
  path: string;
  insecure?: boolean;
  /** The Secret holding the source's credential, when it has one. */
  secretName?: string;
  /**
   * The tenant's service account the Kustomization is applied as, and the namespace its
   * objects go to; absent only for a privileged bootstrap (the controller's own rights).
   */
  tenant?: { serviceAccountName: string };
}

export interface FluxManifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

const SOURCE_API = 'source.toolkit.fluxcd.io/v1';
const KUSTOMIZE_API = 'kustomize.toolkit.fluxcd.io/v1';

/** The Secret a bootstrapped source reads its credential from. */
export function secretNameFor(name: string): string {
  return `${name}-auth`;
}

/**
 * The source and Kustomization a `flux create source … && flux create kustomization …`
 * would make, labelled as the backend's so an adopter can tell them from a bootstrap's.
 */
export function fluxManifests(input: ManifestInput): FluxManifest[] {
  const metadata = {
    name: input.name,
    namespace: input.namespace,
    labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
  };
  const secretRef = input.secretName
    ? { secretRef: { name: input.secretName } }
    : {};
  const git = input.repository.kind === 'git';
  const source: FluxManifest = {
    apiVersion: SOURCE_API,
    kind: git ? 'GitRepository' : 'OCIRepository',
    metadata,
    spec: {
      interval: input.interval,
      url: input.url,
      ref: git ? { branch: input.ref } : { tag: input.ref },
      ...(!git && input.insecure ? { insecure: true } : {}),
      ...secretRef,
    },
  };
  const kustomization: FluxManifest = {
    apiVersion: KUSTOMIZE_API,
    kind: 'Kustomization',
    metadata,
    spec: {
      interval: input.interval,
      path: `./${input.path}`,
      prune: true,
      sourceRef: { kind: source.kind, name: input.name },
      // Flux's multi-tenancy: applied as the tenant, into the tenant's namespace.
      ...(input.tenant
        ? {
            serviceAccountName: input.tenant.serviceAccountName,
            targetNamespace: input.namespace,
          }
        : {}),
    },
  };
  return [source, kustomization];
}
