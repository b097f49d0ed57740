import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { stringifyError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import {
  ANNOTATION_RECEIVER,
  parseRepositoryUrl,
  ParsedRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import {
  ApiException,
  KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { createHash, randomBytes } from 'crypto';
import { CachedFluxObject } from '../cache/types';
import { namespacedFailure } from '../clusters/forbidden';
import { FluxCache } from '../cache';
import { ReceiverInput, ReceiverStore } from '../database/ReceiverStore';

/** Field manager of every server-side apply, and the label marking what it owns. */
export const FIELD_MANAGER = 'backstage-gitops';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** On a managed Receiver: the normalized repository URL of its source. */
export const REPOSITORY_ANNOTATION = 'gitops.backstage.io/repository';

const NOTIFICATION_GROUP = 'notification.toolkit.fluxcd.io';
const SOURCE_KINDS = ['GitRepository', 'OCIRepository'] as const;
type SourceKind = (typeof SOURCE_KINDS)[number];
const MAX_NAME = 63;

export interface ReceiverSettings {
  /** `gitops.receivers.enabled` (default true): off removes the managed Receivers. */
  enabled: boolean;
  /** `gitops.receivers.includeConsumers`: also list the source's Kustomizations. */
  includeConsumers: boolean;
}

/** Reads `gitops.receivers`. */
export function readReceiverSettings(config: Config): ReceiverSettings {
  return {
    enabled: config.getOptionalBoolean('gitops.receivers.enabled') ?? true,
    includeConsumers:
      config.getOptionalBoolean('gitops.receivers.includeConsumers') ?? false,
  };
}

/**
 * Host names of the configured Git hosts. Like GitLab's agent, a source belongs to a
 * host when the host names are equal, whatever the scheme and port: this also covers
 * a registry served on the Git host's name (GitLab's container registry).
 */
export function gitHostNames(config: Config): Set<string> {
  const integrations = ScmIntegrations.fromConfig(config);
  return new Set(
    [...integrations.gitlab.list(), ...integrations.github.list()].map(
      integration => hostName(integration.config.host),
    ),
  );
}

function hostName(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[([^\]]+)\](:\d+)?$/, '$1')
    .replace(/:\d+$/, '');
}

/** `gitops-<git|oci>-<source>`, within 63 characters (a hash keeps cut names apart). */
export function receiverName(kind: SourceKind, sourceName: string): string {
  const name = `gitops-${
    kind === 'GitRepository' ? 'git' : 'oci'
  }-${sourceName}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - 11).replace(/-+$/, '')}-${hash}`;
}

interface Desired {
  source: CachedFluxObject & { kind: SourceKind };
  repository: ParsedRepositoryUrl;
  name: string;
  receiver: KubernetesObject & { spec: Record<string, unknown> };
}

/**
 * Keeps one Flux `Receiver` (type `generic`) and its token `Secret` for every
 * GitRepository and OCIRepository on the managed clusters whose URL is on a configured
 * Git host, so a push can reconcile it at once. Both are server-side applied, owned by
 * the source (the cluster removes them with it) and labelled as managed; a source
 * annotated `gitops.backstage.io/receiver: disabled` gets none. The token is 256
 * random bits written only to the Secret: the webhook path Flux derives from it is
 * what callers need, so the token is never read back nor stored.
 */
export class ReceiverManager {
  /** The last failure of each Receiver that could not be applied, logged once. */
  private readonly failures = new Map<string, string>();

  constructor(
    private readonly options: {
      cache: Pick<
        FluxCache,
        | 'clusterNames'
        | 'isStale'
        | 'list'
        | 'get'
        | 'consumersOfSource'
        | 'versionOf'
      >;
      /** The object API of a cluster, or undefined when it is gone. */
      objectApi(cluster: string): KubernetesObjectApi | undefined;
      store: ReceiverStore;
      gitHosts: Set<string>;
      settings: ReceiverSettings;
      logger: LoggerService;
    },
  ) {}

  /** One round over every cluster whose cache is fresh; a failing cluster does not stop the others. */
  async run(): Promise<void> {
    for (const cluster of this.options.cache.clusterNames()) {
      if (this.options.cache.isStale(cluster)) continue;
      const api = this.options.objectApi(cluster);
      if (!api) continue;
      try {
        await this.syncCluster(cluster, api);
      } catch (error) {
        this.options.logger.warn(
          `Could not manage the Flux receivers of cluster ${cluster}: ${stringifyError(
            error,
          )}`,
        );
      }
    }
  }

  private async syncCluster(cluster: string, api: KubernetesObjectApi) {
    const { cache, logger } = this.options;
    const desired = this.options.settings.enabled
      ? SOURCE_KINDS.flatMap(kind => cache.list(cluster, kind))
          .map(source => this.desiredFor(cluster, source))
          .filter((d): d is Desired => d !== undefined)
      : [];
    const wanted = new Set(
      desired.map(d => `${d.source.metadata.namespace}/${d.name}`),
    );
    const records: ReceiverInput[] = [];

    for (const item of desired) {
      const { namespace } = item.source.metadata;
      const existing = cache.get(cluster, 'Receiver', namespace, item.name);
      if (
        existing &&
        existing.metadata.labels?.[MANAGED_BY_LABEL] !== FIELD_MANAGER
      ) {
        logger.warn(
          `Not managing Receiver ${namespace}/${item.name} on ${cluster}: it exists and was not created by the GitOps plugin`,
        );
        continue;
      }
      const key = `${cluster}/${namespace}/${item.name}`;
      try {
        await this.apply(api, existing, item);
        this.failures.delete(key);
      } catch (error) {
        const failure = namespacedFailure(error, {
          what: 'create Receivers and their Secrets',
          namespace,
        });
        // Every round retries; the log says it once, and again when the cause changes.
        if (this.failures.get(key) !== failure) {
          logger.warn(
            `Could not apply Receiver ${namespace}/${item.name} on ${cluster}: ${failure}`,
          );
          this.failures.set(key, failure);
        }
        continue;
      }
      records.push({
        cluster,
        namespace,
        name: item.name,
        source: { kind: item.source.kind, name: item.source.metadata.name },
        repository: item.repository.normalized,
      });
    }

    // Managed Receivers no source wants any more (opted out, host removed, feature off).
    for (const receiver of cache.list(cluster, 'Receiver')) {
      const { namespace, name, labels } = receiver.metadata;
      if (labels?.[MANAGED_BY_LABEL] !== FIELD_MANAGER) continue;
      if (wanted.has(`${namespace}/${name}`)) continue;
      try {
        await this.remove(api, receiver);
        logger.info(`Removed Receiver ${namespace}/${name} on ${cluster}`);
      } catch (error) {
        logger.warn(
          `Could not remove Receiver ${namespace}/${name} on ${cluster}: ${stringifyError(
            error,
          )}`,
        );
      }
    }
    await this.options.store.replaceCluster(cluster, records);
  }

  private desiredFor(
    cluster: string,
    source: CachedFluxObject,
  ): Desired | undefined {
    const kind = source.kind as SourceKind;
    if (source.metadata.annotations?.[ANNOTATION_RECEIVER] === 'disabled') {
      return undefined;
    }
    if (source.metadata.deletionTimestamp || !source.metadata.uid) {
      return undefined;
    }
    const url = source.spec.url;
    if (typeof url !== 'string') return undefined;
    let repository: ParsedRepositoryUrl;
    try {
      repository = parseRepositoryUrl(url);
    } catch {
      return undefined;
    }
    if (!this.options.gitHosts.has(hostName(repository.host))) {
      return undefined;
    }
    const { name: sourceName, namespace } = source.metadata;
    const name = receiverName(kind, sourceName);
    const resources: Record<string, string>[] = [
      { apiVersion: source.apiVersion, kind, name: sourceName },
    ];
    if (this.options.settings.includeConsumers) {
      for (const consumer of this.options.cache.consumersOfSource(cluster, {
        kind,
        namespace,
        name: sourceName,
      })) {
        resources.push({
          apiVersion: consumer.apiVersion,
          kind: consumer.kind,
          name: consumer.metadata.name,
          namespace: consumer.metadata.namespace,
        });
      }
    }
    const version =
      this.options.cache.versionOf(cluster, NOTIFICATION_GROUP) ?? 'v1';
    return {
      source: source as Desired['source'],
      repository,
      name,
      receiver: {
        apiVersion: `${NOTIFICATION_GROUP}/${version}`,
        kind: 'Receiver',
        metadata: {
          name,
          namespace,
          labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
          annotations: { [REPOSITORY_ANNOTATION]: repository.normalized },
          ownerReferences: [ownerReference(source)],
        },
        spec: {
          type: 'generic',
          resources,
          secretRef: { name },
        },
      },
    };
  }

  /** Writes the Secret only when the Receiver is new or lost its token, the Receiver when it differs. */
  private async apply(
    api: KubernetesObjectApi,
    existing: CachedFluxObject | undefined,
    item: Desired,
  ) {
    const needsToken =
      !existing ||
      (existing.spec.secretRef as { name?: string } | undefined)?.name !==
        item.name ||
      readyReason(existing) === 'TokenNotFound';
    if (needsToken) {
      await api.patch(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: item.name,
            namespace: item.source.metadata.namespace,
            labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
            ownerReferences: [ownerReference(item.source)],
          },
          type: 'Opaque',
          // `data` is base64; the token itself is the hex text Flux hashes.
          data: {
            token: Buffer.from(randomBytes(32).toString('hex')).toString(
              'base64',
            ),
          },
        } as KubernetesObject,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    }
    if (
      needsToken ||
      JSON.stringify(existing?.spec) !== JSON.stringify(item.receiver.spec) ||
      existing?.metadata.annotations?.[REPOSITORY_ANNOTATION] !==
        item.repository.normalized
    ) {
      await api.patch(
        item.receiver,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    }
  }

  private async remove(api: KubernetesObjectApi, receiver: CachedFluxObject) {
    const { namespace, name } = receiver.metadata;
    // The Secret the manager wrote has the Receiver's name. `spec.secretRef.name` is the
    // cluster's word: a Secret it names is not deleted (nor a path such as `..`).
    const secretName = name;
    for (const object of [
      {
        apiVersion: receiver.apiVersion,
        kind: 'Receiver',
        metadata: { name, namespace },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secretName, namespace },
      },
    ]) {
      try {
        await api.delete(object);
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      }
    }
  }
}

function ownerReference(source: CachedFluxObject) {
  return {
    apiVersion: source.apiVersion,
    kind: source.kind,
    name: source.metadata.name,
    uid: source.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function readyReason(object: CachedFluxObject): string | undefined {
  const conditions = object.status.conditions as
    | { type: string; reason?: string }[]
    | undefined;
  return conditions?.find(c => c.type === 'Ready')?.reason;
}
