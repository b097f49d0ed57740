import { LoggerService } from '@backstage/backend-plugin-api';
import { stringifyError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import {
  parseRepositoryUrl,
  ParsedRepositoryUrl,
  TokenRecord,
  TokenUsage,
  UnreadableSecret,
} from '@backstage-gitops/plugin-gitops-common';
import { KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { FluxCache } from '../cache';
import { namespacedFailure } from '../clusters/forbidden';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { TokenInput, TokenStore } from '../database/TokenStore';
import { GitLabCredentialLookup, HostRecord } from './GitLabCredentialLookup';
import {
  credentialsInSecret,
  FoundCredential,
  fingerprintOf,
} from './secretCredentials';
import { isObjectName } from '../cache/projection';

const SOURCE_KINDS = ['GitRepository', 'OCIRepository'] as const;

/** A Flux object that names a Secret, and what it uses it for. */
interface SecretUser {
  kind: string;
  namespace: string;
  name: string;
  secret: string;
  /** The URL it uses the credential for: a source's URL, a Provider's address. */
  url: string;
  purpose: TokenUsage['purpose'];
}

type Draft = TokenInput;
type Unreadable = Omit<UnreadableSecret, 'lastSeenAt'>;

/**
 * Builds the inventory of the credentials Flux uses: every Secret named by a source's or
 * a notification Provider's `secretRef` on every fresh cluster, each credential in it
 * identified on its Git host (GitLab) and merged with its other uses. Only metadata and
 * fingerprints reach the store; the values are dropped once identified.
 */
export class TokenInventory {
  constructor(
    private readonly options: {
      cache: Pick<FluxCache, 'clusterNames' | 'isStale' | 'list' | 'health'>;
      objectApi(cluster: string): KubernetesObjectApi | undefined;
      integrations: ScmIntegrations;
      deliveries: Pick<DeliveryRepositoryStore, 'list'>;
      store: Pick<
        TokenStore,
        'list' | 'replaceAll' | 'listUnreadable' | 'replaceUnreadable'
      >;
      logger: LoggerService;
    },
  ) {}

  /** One round; a cluster that fails is skipped, and its records kept as they were. */
  async run(): Promise<TokenRecord[]> {
    const { cache, logger } = this.options;
    const lookup = new GitLabCredentialLookup(this.options.integrations);
    const drafts = new Map<string, Draft>();
    const unreadable = new Map<string, Unreadable>();
    const scanned: string[] = [];
    for (const cluster of cache.clusterNames()) {
      if (cache.isStale(cluster)) continue;
      const api = this.options.objectApi(cluster);
      if (!api) continue;
      try {
        for (const user of await this.secretUsers(cluster, api)) {
          await this.add(drafts, unreadable, lookup, cluster, api, user);
        }
        scanned.push(cluster);
      } catch (error) {
        logger.warn(
          `Token inventory of cluster ${cluster} failed: ${stringifyError(
            error,
          )}`,
        );
      }
    }
    // What a cluster that could not be read used stays as it was last seen.
    for (const old of await this.options.store.list()) {
      const kept = old.usages.filter(usage => !scanned.includes(usage.cluster));
      if (kept.length === 0) continue;
      const draft = drafts.get(old.id);
      if (draft) {
        draft.usages.push(...kept);
      } else {
        const { lastSeenAt, lastRotatedAt, ...rest } = old;
        drafts.set(old.id, { ...rest, usages: kept });
      }
    }
    await this.recordUnreadable(scanned, [...unreadable.values()]);
    return this.options.store.replaceAll([...drafts.values()]);
  }

  /** Stores the round's unreadable Secrets, logging only those that were not already. */
  private async recordUnreadable(scanned: string[], secrets: Unreadable[]) {
    const key = (s: Unreadable) => `${s.cluster}/${s.namespace}/${s.secret}`;
    const known = new Set((await this.options.store.listUnreadable()).map(key));
    for (const secret of secrets) {
      if (known.has(key(secret))) continue;
      this.options.logger.warn(
        `Cannot read Secret ${secret.namespace}/${secret.secret} on ${
          secret.cluster
        } (used by ${secret.usedBy
          .map(user => `${user.kind} ${user.name}`)
          .join(', ')}): ${secret.reason}`,
      );
    }
    await this.options.store.replaceUnreadable(scanned, secrets);
  }

  private async secretUsers(
    cluster: string,
    api: KubernetesObjectApi,
  ): Promise<SecretUser[]> {
    const users: SecretUser[] = [];
    for (const kind of SOURCE_KINDS) {
      for (const source of this.options.cache.list(cluster, kind)) {
        const secret = (source.spec.secretRef as { name?: unknown } | undefined)
          ?.name;
        // A name from the cluster goes into an API path: only a Kubernetes name does.
        if (isObjectName(secret) && typeof source.spec.url === 'string') {
          users.push({
            kind,
            namespace: source.metadata.namespace,
            name: source.metadata.name,
            secret,
            url: source.spec.url,
            purpose: 'read',
          });
        }
      }
    }
    // Providers are not watched: they are listed once per round.
    const providerVersion =
      this.options.cache.health(cluster).servedFluxVersions.Provider;
    if (providerVersion) {
      const providers = await api.list<
        KubernetesObject & {
          spec?: { secretRef?: { name?: string }; address?: string };
        }
      >(providerVersion, 'Provider');
      for (const provider of providers.items) {
        const secret = provider.spec?.secretRef?.name;
        const address = provider.spec?.address;
        if (isObjectName(secret) && address) {
          users.push({
            kind: 'Provider',
            namespace: provider.metadata!.namespace!,
            name: provider.metadata!.name!,
            secret,
            url: address,
            purpose: 'commit-status',
          });
        }
      }
    }
    return users;
  }

  private async add(
    drafts: Map<string, Draft>,
    unreadable: Map<string, Unreadable>,
    lookup: GitLabCredentialLookup,
    cluster: string,
    api: KubernetesObjectApi,
    user: SecretUser,
  ) {
    let data: Record<string, string> | undefined;
    try {
      const secret = await api.read<
        KubernetesObject & { data?: Record<string, string> }
      >({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: user.secret, namespace: user.namespace },
      });
      data = secret.data;
    } catch (error) {
      const key = `${cluster}/${user.namespace}/${user.secret}`;
      const entry = unreadable.get(key) ?? {
        cluster,
        namespace: user.namespace,
        secret: user.secret,
        usedBy: [],
        reason: namespacedFailure(error, {
          what: 'get Secrets',
          namespace: user.namespace,
        }),
      };
      entry.usedBy.push({ kind: user.kind, name: user.name });
      unreadable.set(key, entry);
      return;
    }
    let repository: ParsedRepositoryUrl | undefined;
    try {
      repository = parseRepositoryUrl(user.url);
    } catch {
      repository = undefined;
    }
    const credentials = relevant(credentialsInSecret(data), repository);
    for (const credential of credentials) {
      const fingerprint = fingerprintOf(credential);
      const project = repository && (await lookup.projectOf(repository));
      let record: HostRecord | undefined;
      if (project) {
        try {
          record = await lookup.identify(credential, project);
        } catch (error) {
          this.options.logger.warn(
            `Cannot identify the credential in ${user.namespace}/${
              user.secret
            } on ${cluster}: ${stringifyError(error)}`,
          );
        }
      }
      const key = record
        ? `${record.host}|${record.kind}|${record.hostId}`
        : `unknown|${fingerprint}`;
      const id = createHash('sha256').update(key).digest('hex').slice(0, 20);
      const draft: Draft = drafts.get(id) ?? {
        id,
        ...(record ?? { kind: 'unknown' }),
        ...(credential.username &&
        !record?.username &&
        record?.kind !== 'deploy-key'
          ? { username: credential.username }
          : {}),
        fingerprint,
        repositories: [],
        projects: [],
        entityRefs: [],
        usages: [],
      };
      drafts.set(id, draft);
      draft.usages.push({
        cluster,
        namespace: user.namespace,
        secret: user.secret,
        key: credential.key,
        format: credential.format,
        object: { kind: user.kind, name: user.name },
        ...(repository ? { repository: repository.normalized } : {}),
        purpose: user.purpose,
      });
      if (repository) {
        addOnce(draft.repositories, repository.normalized);
        for (const delivery of await this.options.deliveries.list({
          normalizedUrl: repository.normalized,
        })) {
          addOnce(draft.entityRefs, delivery.entityRef);
        }
      }
      if (project) addOnce(draft.projects, project.path);
    }
  }
}

function addOnce(list: string[], value: string) {
  if (!list.includes(value)) list.push(value);
}

/** A docker config may hold several registries: only the one the source pulls from counts. */
function relevant(
  credentials: FoundCredential[],
  repository: ParsedRepositoryUrl | undefined,
): FoundCredential[] {
  return credentials.filter(
    credential =>
      credential.format !== 'docker-config' ||
      !repository ||
      credential.registry === repository.host,
  );
}
