import {
  Entity,
  parseEntityRef,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { z } from 'zod';

/** Where, and as whom, an entity's Flux objects run on one cluster. */
export interface TenantPlacement {
  /** The namespace the source, its Secret and the Kustomization live in and apply to. */
  namespace: string;
  /** The tenant's service account, which kustomize- and helm-controller impersonate. */
  serviceAccountName: string;
}

/** One `gitops.tenancy.tenants` entry, validated. */
export interface TenantConfig {
  /** The owner (user or group) whose entities this tenant holds, as a full entity ref. */
  owner: string;
  namespace: string;
  serviceAccountName: string;
  /** The clusters the tenant exists on; absent: every cluster. */
  clusters?: string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SERVICE_ACCOUNT = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const tenantSchema = z
  .object({
    owner: z.string().min(1),
    namespace: z
      .string()
      .max(63)
      .regex(DNS_LABEL, 'is not a namespace name (a DNS label)'),
    serviceAccountName: z
      .string()
      .max(253)
      .regex(SERVICE_ACCOUNT, 'is not a service account name')
      .optional(),
    clusters: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** A group ref as owners are written (`team-apps`, `group:team-apps`), made full. */
export function canonicalOwnerRef(owner: string, defaultNamespace = 'default') {
  return stringifyEntityRef(
    parseEntityRef(owner, { defaultKind: 'group', defaultNamespace }),
  ).toLocaleLowerCase('en-US');
}

/**
 * The entity's owners as the catalog resolved them (`ownedBy` relations), else its
 * `spec.owner` made full: the key the platform's tenancy map is read with.
 */
export function ownersOf(entity: Entity): string[] {
  const related = (entity.relations ?? [])
    .filter(relation => relation.type === 'ownedBy')
    .map(relation => relation.targetRef.toLocaleLowerCase('en-US'));
  if (related.length > 0) return [...new Set(related)];
  const owner = entity.spec?.owner;
  return typeof owner === 'string' && owner
    ? [canonicalOwnerRef(owner, entity.metadata.namespace ?? 'default')]
    : [];
}

/**
 * Flux's multi-tenancy as the platform configured it (`gitops.tenancy.tenants`): an
 * entity's owner maps, per cluster, to a namespace and the service account its
 * Kustomizations run as. The map is the platform's configuration, never an entity's
 * own annotation, so an owner cannot place itself in another team's namespace.
 */
export class Tenancy {
  static fromConfig(config: Config): Tenancy {
    const entries =
      config.getOptionalConfigArray('gitops.tenancy.tenants') ?? [];
    const tenants = entries.map((entry, index) => {
      const parsed = tenantSchema.safeParse(entry.get());
      if (!parsed.success) {
        throw new Error(
          `gitops.tenancy.tenants[${index}]: ${parsed.error.issues
            .map(issue => `${issue.path.join('.') || 'entry'} ${issue.message}`)
            .join('; ')}`,
        );
      }
      let owner: string;
      try {
        owner = canonicalOwnerRef(parsed.data.owner);
      } catch (error) {
        throw new Error(
          `gitops.tenancy.tenants[${index}].owner: ${(error as Error).message}`,
        );
      }
      return {
        owner,
        namespace: parsed.data.namespace,
        // As `flux create tenant` names it: after the tenant.
        serviceAccountName:
          parsed.data.serviceAccountName ?? parsed.data.namespace,
        clusters: parsed.data.clusters,
      };
    });
    return new Tenancy(tenants);
  }

  constructor(private readonly tenants: TenantConfig[]) {
    const seen = new Map<string, string>();
    for (const tenant of tenants) {
      for (const cluster of tenant.clusters ?? ['*']) {
        const key = `${tenant.owner} ${cluster}`;
        if (seen.has(key)) {
          throw new Error(
            `gitops.tenancy.tenants: ${tenant.owner} has two tenants on ${
              cluster === '*' ? 'every cluster' : `cluster ${cluster}`
            } (${seen.get(key)} and ${tenant.namespace})`,
          );
        }
        seen.set(key, tenant.namespace);
      }
    }
  }

  /**
   * The tenant of the entity's owners on `cluster`: the first owner with one (an entity
   * has one owner in practice). Undefined when the platform mapped none.
   */
  placementOf(owners: string[], cluster: string): TenantPlacement | undefined {
    for (const owner of owners) {
      const forCluster = this.tenants.filter(
        tenant =>
          tenant.owner === owner &&
          (!tenant.clusters || tenant.clusters.includes(cluster)),
      );
      // A cluster-specific entry wins over one for every cluster.
      const tenant =
        forCluster.find(candidate => candidate.clusters) ?? forCluster[0];
      if (tenant) {
        return {
          namespace: tenant.namespace,
          serviceAccountName: tenant.serviceAccountName,
        };
      }
    }
    return undefined;
  }

  /** Every tenant namespace on `cluster`, for reports and checks. */
  namespacesOn(cluster: string): string[] {
    return [
      ...new Set(
        this.tenants
          .filter(t => !t.clusters || t.clusters.includes(cluster))
          .map(t => t.namespace),
      ),
    ];
  }
}
