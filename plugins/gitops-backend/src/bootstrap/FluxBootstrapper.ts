import {
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  stringifyError,
} from '@backstage/errors';
import {
  FluxBootstrapCluster,
  FluxBootstrapRequest,
  FluxBootstrapResult,
  FluxKind,
  parseRepositoryUrl,
  ParsedRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import {
  ApiException,
  KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { FluxActions } from '../actions/FluxActions';
import { FluxCache } from '../cache';
import { repositoryHostProblem } from '../clusters/addresses';
import { GitOpsCluster } from '../clusters/types';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { FIELD_MANAGER, MANAGED_BY_LABEL } from '../receivers/ReceiverManager';
import { Actor, TokenRotator } from '../tokens/TokenRotator';
import { RepositoryAccess } from '../gitHosts/RepositoryAccess';
import { GitLabCredentialLookup } from '../tokens/GitLabCredentialLookup';
import {
  ObjectOwner,
  ObjectOwnerStore,
  ownedObjectKey,
  OwnedObjectKey,
} from '../database/ObjectOwnerStore';
import { Tenancy, TenantPlacement } from '../tenancy';
import { fluxManifests, FluxManifest, secretNameFor } from './manifests';

/** A validated request, as the router hands it over. */
export type BootstrapInput = Required<
  Pick<FluxBootstrapRequest, 'url' | 'ref' | 'interval' | 'dryRun'>
> &
  Pick<
    FluxBootstrapRequest,
    'name' | 'insecure' | 'credential' | 'clusters' | 'privileged'
  > & {
    /** The canonical ref of an entity the caller may manage. */
    entityRef: string;
    /** The entity's owners (full refs), which the tenancy map is read with. */
    owners: string[];
  };

/** Where one cluster's objects go, and as whom its Kustomization runs. */
interface Placement {
  cluster: GitOpsCluster;
  path: string;
  namespace: string;
  /** Absent: privileged, with the controller's own rights. */
  tenant?: TenantPlacement;
}

const DEFAULT_READY_TIMEOUT_MS = 5 * 60_000;

/** `gitops.bootstrap.readyTimeout`, in milliseconds. */
export function readBootstrapReadyTimeout(config: Config): number {
  return config.has('gitops.bootstrap.readyTimeout')
    ? durationToMilliseconds(
        readDurationFromConfig(config, {
          key: 'gitops.bootstrap.readyTimeout',
        }),
      )
    : DEFAULT_READY_TIMEOUT_MS;
}

const SECRET_FIELD_MANAGER = `${FIELD_MANAGER}-bootstrap`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The default object name: the repository's last path segment as a DNS label. */
function defaultName(repository: ParsedRepositoryUrl): string {
  const last = repository.path.split('/').pop() ?? '';
  return last
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** An object written by this bootstrap, to delete again if a later step fails. */
interface Written {
  cluster: string;
  object: KubernetesObject;
}

/**
 * Wires a delivery repository to Flux, as an adopter would with `flux create source` and
 * `flux create kustomization` on each cluster, but from Backstage: the repository is
 * registered for the entity, each cluster gets the source and a Kustomization (server-side
 * applied, labelled as the backend's), and a repository on a configured GitLab gets a
 * read-only deploy token in a new Secret. The Receiver follows from the receiver task.
 * Everything is checked before anything is written; a dry run stops there, after the
 * API servers validated the objects (`dryRun=All`). If the source does not become Ready,
 * everything written is removed again.
 */
export class FluxBootstrapper {
  constructor(
    private readonly options: {
      clusters: { get(name: string): GitOpsCluster | undefined };
      cache: Pick<FluxCache, 'isStale' | 'get'>;
      objectApi: (cluster: string) => KubernetesObjectApi | undefined;
      deliveries: Pick<DeliveryRepositoryStore, 'list' | 'upsert' | 'delete'>;
      rotator: Pick<TokenRotator, 'provision'>;
      lookup: () => Pick<GitLabCredentialLookup, 'projectOf'>;
      actionsFor: (cluster: string) => Pick<FluxActions, 'reconcile'>;
      /** How long a source and its Kustomizations may take to be Ready. */
      readyTimeoutMs: number;
      /** Loopback or link-local hosts a URL may point at nonetheless (`gitops.registration`). */
      allowedLocalHosts: string[];
      /** The platform's map of owners to tenant namespaces and service accounts. */
      tenancy: Pick<Tenancy, 'placementOf'>;
      /** Which entity each object the backend created belongs to. */
      owners: ObjectOwnerStore;
      access: Pick<RepositoryAccess, 'requireReadable'>;
      logger: LoggerService;
    },
  ) {}

  async bootstrap(
    input: BootstrapInput,
    { actor, credentials }: Actor & { credentials: BackstageCredentials },
  ): Promise<FluxBootstrapResult> {
    const repository = this.repositoryOf(input.url);
    const name = input.name ?? defaultName(repository);
    if (!DNS_LABEL.test(name) || name.length > 63) {
      throw new InputError(
        `"${name}" is not a valid Flux object name: lower-case letters, digits and '-', at most 63 characters`,
      );
    }
    // The clusters' Flux would fetch it: not their own loopback or a metadata service.
    // (The caller may manage the entity: the router checked before calling.)
    const local = await repositoryHostProblem(
      repository,
      this.options.allowedLocalHosts,
    );
    if (local) throw new InputError(`Invalid url: ${local}`);
    // Where the objects may go: decided before any Git host or cluster call.
    const placements = input.clusters.map(c => this.placementOf(input, c));
    // The backend's token reads the repository and makes its deploy token: only for a
    // caller who could read it themselves.
    await this.options.access.requireReadable(repository, credentials);
    const project =
      input.credential === false
        ? undefined
        : await this.options.lookup().projectOf(repository);
    if (input.credential === true && !project) {
      throw new InputError(
        `A credential can only be created for a repository on a GitLab of integrations.gitlab; ${input.url} is not`,
      );
    }
    const secretName = project ? secretNameFor(name) : undefined;

    const planned = placements.map(({ cluster, path, namespace, tenant }) => {
      const manifests = fluxManifests({
        repository,
        url: input.url,
        name,
        namespace,
        ref: input.ref,
        interval: input.interval,
        path,
        insecure: input.insecure,
        secretName,
        tenant,
      });
      return { cluster: cluster.name, namespace, manifests };
    });
    const ownedObjects = planned.flatMap(
      ({ cluster, namespace, manifests }) => [
        ...manifests.map(m => ({ cluster, kind: m.kind, namespace, name })),
        ...(secretName
          ? [{ cluster, kind: 'Secret', namespace, name: secretName }]
          : []),
      ],
    );
    const recorded = await this.refuseOthers(ownedObjects, input.entityRef);
    for (const { cluster, manifests } of planned) {
      for (const manifest of manifests) {
        this.refuseForeign(cluster, manifest, recorded);
      }
    }

    // The API servers validate every object before anything is written.
    let credentialInPlace = !!secretName;
    for (const { cluster, namespace, manifests } of planned) {
      if (secretName) {
        const secret = await this.ownSecret(
          { cluster, kind: 'Secret', namespace, name: secretName },
          recorded,
        );
        credentialInPlace &&= Object.keys(secret?.data ?? {}).length > 0;
      }
      for (const manifest of manifests) {
        await this.apply(cluster, manifest, { dryRun: true });
      }
    }
    const result = (ready?: (c: string) => FluxBootstrapCluster['ready']) =>
      planned.map(({ cluster, manifests }) => ({
        name: cluster,
        manifests: manifests as unknown as Array<Record<string, unknown>>,
        ...(ready ? { ready: ready(cluster) } : {}),
      }));
    if (input.dryRun) {
      return { dryRun: true, clusters: result() };
    }

    // Registered already (by the entity's annotation, or an earlier call): kept as it is.
    const existing = (
      await this.options.deliveries.list({ entityRef: input.entityRef })
    ).find(
      entry =>
        parseRepositoryUrl(entry.url).normalized === repository.normalized,
    );
    // Recorded before anything is written: of two entities bootstrapping one name at
    // once, one gets the objects and the other a 409.
    const { conflicts, claimed } = await this.options.owners.claim(
      ownedObjects,
      { entityRef: input.entityRef, createdBy: actor },
    );
    if (conflicts.length > 0) throw ownedByOthers(conflicts);
    const registered =
      existing ??
      (await this.options.deliveries.upsert({
        entityRef: input.entityRef,
        url: input.url,
        ref: input.ref,
        clusters: planned.map(p => p.cluster),
        origin: 'api',
      }));
    const written: Written[] = [];
    let token: FluxBootstrapResult['token'];
    try {
      for (const { cluster, namespace, manifests } of planned) {
        if (secretName) {
          await this.createSecret(
            cluster,
            namespace,
            secretName,
            repository,
            written,
          );
        }
        for (const manifest of manifests) {
          await this.apply(cluster, manifest, { written });
        }
      }
      const sources = planned.map(({ cluster, namespace, manifests }) => ({
        cluster,
        object: {
          kind: manifests[0].kind as FluxKind,
          namespace,
          name,
        },
      }));
      // Asked again (a retried task): the credential already in place is kept.
      if (project && secretName && !credentialInPlace) {
        token = await this.options.rotator.provision(
          {
            repository,
            project,
            name: `backstage-gitops-${name}`,
            secrets: planned.map(({ cluster, namespace }) => ({
              cluster,
              namespace,
              secret: secretName,
            })),
            sources,
            readyTimeoutMs: this.options.readyTimeoutMs,
          },
          { actor },
        );
      } else {
        for (const { cluster, object } of sources) {
          await this.options
            .actionsFor(cluster)
            .reconcile(object, { timeoutMs: this.options.readyTimeoutMs });
        }
      }
    } catch (error) {
      await this.undo(written);
      await this.options.owners.release(claimed, input.entityRef);
      if (!existing) await this.options.deliveries.delete(registered.id);
      this.options.logger.warn(
        `Bootstrapping ${repository.normalized} for ${
          input.entityRef
        } failed and was undone: ${stringifyError(error)}`,
      );
      throw error;
    }
    this.options.logger.info(
      `${actor} bootstrapped ${repository.normalized} for ${
        input.entityRef
      } on ${planned.map(p => p.cluster).join(', ')}`,
    );

    // The objects stay whatever happens now: a Kustomization that is not Ready says
    // something about the repository's content, which the tab shows.
    const ready = new Map<string, NonNullable<FluxBootstrapCluster['ready']>>();
    for (const { cluster, namespace } of planned) {
      try {
        await this.options
          .actionsFor(cluster)
          .reconcile(
            { kind: 'Kustomization', namespace, name },
            { timeoutMs: this.options.readyTimeoutMs },
          );
        ready.set(cluster, [{ name, status: 'True' }]);
      } catch (error) {
        ready.set(cluster, [
          { name, status: 'False', message: stringifyError(error) },
        ]);
      }
    }
    return {
      dryRun: false,
      deliveryRepositoryId: registered.id,
      clusters: result(cluster => ready.get(cluster)),
      ...(token ? { token } : {}),
    };
  }

  private repositoryOf(url: string): ParsedRepositoryUrl {
    let repository: ParsedRepositoryUrl;
    try {
      repository = parseRepositoryUrl(url);
    } catch (error) {
      throw new InputError(stringifyError(error));
    }
    if (repository.kind === 'git' && !/^https?:\/\//i.test(url.trim())) {
      throw new InputError(
        `Only HTTP(S) Git URLs are bootstrapped (an SSH source needs a deploy key and known_hosts): ${url}`,
      );
    }
    return repository;
  }

  /**
   * The tenant namespace and service account of the entity's owner on the cluster, or
   * the Flux namespace for a privileged bootstrap (authorized by the router). A cluster
   * without a tenant for the owner, or another namespace, is refused.
   */
  private placementOf(
    input: BootstrapInput,
    requested: BootstrapInput['clusters'][number],
  ): Placement {
    const cluster = this.requireCluster(requested.name);
    if (input.privileged) {
      return {
        cluster,
        path: requested.path,
        namespace: requested.namespace ?? cluster.settings.fluxNamespace,
      };
    }
    const tenant = this.options.tenancy.placementOf(input.owners, cluster.name);
    if (!tenant) {
      throw new NotAllowedError(
        `${input.entityRef} has no tenant on cluster ${
          cluster.name
        }: gitops.tenancy.tenants maps no namespace to its owner (${
          input.owners.join(', ') || 'none'
        }); ask a platform administrator to add one, or to bootstrap it privileged`,
      );
    }
    if (requested.namespace && requested.namespace !== tenant.namespace) {
      throw new NotAllowedError(
        `Namespace ${requested.namespace} on cluster ${cluster.name} is not the tenant namespace of ${input.entityRef}'s owner (${tenant.namespace})`,
      );
    }
    return {
      cluster,
      path: requested.path,
      namespace: tenant.namespace,
      tenant,
    };
  }

  /**
   * Objects another entity owns are theirs: refused. Answers the keys recorded as the
   * entity's own.
   */
  private async refuseOthers(
    objects: OwnedObjectKey[],
    entityRef: string,
  ): Promise<Set<string>> {
    const owners = await this.options.owners.ownersOf(objects);
    const others = owners.filter(owner => owner.entityRef !== entityRef);
    if (others.length > 0) throw ownedByOthers(others);
    return new Set(owners.map(ownedObjectKey));
  }

  private requireCluster(name: string): GitOpsCluster {
    const cluster = this.options.clusters.get(name);
    if (!cluster) {
      throw new InputError(`Unknown cluster "${name}"`);
    }
    if (this.options.cache.isStale(name)) {
      throw new ConflictError(`Cluster "${name}" cannot be reached`);
    }
    return cluster;
  }

  /**
   * Objects of the same name the backend did not create are someone else's; those it
   * created with no recorded owner (before owners were recorded, or left by an undo that
   * failed) are nobody's to take over: both refused.
   */
  private refuseForeign(
    cluster: string,
    manifest: FluxManifest,
    recorded: Set<string>,
  ) {
    const current = this.options.cache.get(
      cluster,
      manifest.kind as FluxKind,
      manifest.metadata.namespace,
      manifest.metadata.name,
    );
    if (current) {
      refuseUnowned(
        current.metadata.labels,
        {
          cluster,
          kind: manifest.kind,
          namespace: manifest.metadata.namespace,
          name: manifest.metadata.name,
        },
        recorded,
      );
    }
  }

  /** The source's Secret if the backend made it before for the entity; else refused. */
  private async ownSecret(key: OwnedObjectKey, recorded: Set<string>) {
    const secret = (await this.read(key.cluster, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: key.name, namespace: key.namespace },
    })) as (KubernetesObject & { data?: Record<string, string> }) | undefined;
    if (secret) refuseUnowned(secret.metadata?.labels, key, recorded);
    return secret;
  }

  /** The object as the cluster has it, or undefined. */
  private async read(
    cluster: string,
    object: KubernetesObject,
  ): Promise<KubernetesObject | undefined> {
    try {
      return await this.api(cluster).read(
        object as KubernetesObject & { metadata: { name: string } },
      );
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  private api(cluster: string): KubernetesObjectApi {
    const api = this.options.objectApi(cluster);
    if (!api) throw new NotFoundError(`No cluster ${cluster}`);
    return api;
  }

  /** Server-side apply; records an object that did not exist before, for `undo`. */
  private async apply(
    cluster: string,
    object: KubernetesObject,
    options: { dryRun?: boolean; written?: Written[]; fieldManager?: string },
  ) {
    const api = this.api(cluster);
    const isNew = options.written && !(await this.read(cluster, object));
    try {
      await api.patch(
        object,
        undefined,
        options.dryRun ? 'All' : undefined,
        options.fieldManager ?? FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      if (error instanceof ApiException && error.code === 422) {
        throw new InputError(
          `${cluster} refuses ${object.kind} ${
            object.metadata?.name
          }: ${statusMessage(error)}`,
        );
      }
      throw error;
    }
    if (isNew) options.written!.push({ cluster, object });
  }

  /** The source's Secret, typed as Flux expects it; the credential comes later. */
  private async createSecret(
    cluster: string,
    namespace: string,
    name: string,
    repository: ParsedRepositoryUrl,
    written: Written[],
  ) {
    await this.apply(
      cluster,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name,
          namespace,
          labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
        },
        type:
          repository.kind === 'oci'
            ? 'kubernetes.io/dockerconfigjson'
            : 'Opaque',
        ...(repository.kind === 'oci'
          ? {
              data: {
                '.dockerconfigjson':
                  Buffer.from('{"auths":{}}').toString('base64'),
              },
            }
          : {}),
      } as KubernetesObject,
      // A field manager of its own: the credential's later applies (`SecretWriter`) own
      // only the data, so they leave the label that marks the Secret as Backstage's.
      { written, fieldManager: SECRET_FIELD_MANAGER },
    );
  }

  /** Deletes what this bootstrap created, newest first. */
  private async undo(written: Written[]) {
    for (const { cluster, object } of [...written].reverse()) {
      await this.api(cluster)
        .delete(object)
        .catch(error =>
          this.options.logger.error(
            `Could not delete ${object.kind} ${object.metadata?.namespace}/${
              object.metadata?.name
            } on ${cluster}: ${stringifyError(error)}`,
          ),
        );
    }
  }
}

/** Refuses an existing object that is not the backend's, or not recorded as the entity's. */
function refuseUnowned(
  labels: Record<string, string> | undefined,
  key: OwnedObjectKey,
  recorded: Set<string>,
) {
  const what = `${key.kind} ${key.namespace}/${key.name} already exists on ${key.cluster}`;
  if (labels?.[MANAGED_BY_LABEL] !== FIELD_MANAGER) {
    throw new ConflictError(
      `${what} and was not created by Backstage; choose another name`,
    );
  }
  if (!recorded.has(ownedObjectKey(key))) {
    throw new ConflictError(
      `${what} with no recorded owner; choose another name, or have it removed`,
    );
  }
}

function ownedByOthers(owners: ObjectOwner[]): ConflictError {
  return new ConflictError(
    `${owners
      .map(
        o =>
          `${o.kind} ${o.namespace}/${o.name} on ${o.cluster} belongs to ${o.entityRef}`,
      )
      .join(', ')}; choose another name`,
  );
}

function statusMessage(error: ApiException<unknown>): string {
  try {
    const body =
      typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return String((body as { message?: unknown })?.message ?? error.message);
  } catch {
    return error.message;
  }
}
