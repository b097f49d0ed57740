import { LoggerService } from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { stringifyError } from '@backstage/errors';
import {
  ANNOTATION_KUBERNETES_ID,
  DeliveryRepository,
  ParsedRepositoryUrl,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { fluxKinds, FluxKind, FluxObjectRef } from '../actions/fluxKinds';
import { FluxCache } from '../cache/FluxCache';
import { ownedKeyOf, ownedObjectKey } from '../database/ObjectOwnerStore';
import { CachedFluxObject } from '../cache/types';
import { GitLabRepositories } from './GitLabRepositories';
import { shaOfRevision, toStatusItem } from './statusItem';
import {
  ClusterStatus,
  EntityStatus,
  FluxChain,
  FluxStatusItem,
  RepositoryStatus,
} from './types';

const CONSUMER_KINDS: FluxKind[] = ['Kustomization', 'HelmRelease'];
const SOURCE_KINDS: FluxKind[] = [
  'GitRepository',
  'OCIRepository',
  'Bucket',
  'HelmRepository',
  'HelmChart',
];

/** The cache queries the status is built from (no cluster call). */
export type StatusCache = Pick<
  FluxCache,
  | 'clusterNames'
  | 'health'
  | 'sourcesByUrl'
  | 'consumersOfSource'
  | 'byKubernetesId'
  | 'get'
  | 'events'
>;

/** Who reads a status: what they may not see is left out. */
export interface StatusViewer {
  unreadable(objects: CachedFluxObject[]): Promise<Set<string>>;
}

export interface EntityStatusServiceOptions {
  cache: StatusCache;
  /** The entity's delivery repositories (see DeliveryRepositoryCatalogSync.listForEntity). */
  deliveries: { listForEntity(entity: Entity): Promise<DeliveryRepository[]> };
  /** Root config: `integrations.gitlab` names the Git hosts read for heads. */
  config: Config;
  logger: LoggerService;
  /** How long Git host answers are kept (default 30 s). */
  gitHostCacheTtlMs?: number;
}

interface ParsedDelivery {
  repository: DeliveryRepository;
  parsed?: ParsedRepositoryUrl;
  error?: string;
}

/** One cluster's chains while they are assembled, keyed by `Kind/ns/name`. */
interface ChainDraft {
  source: CachedFluxObject;
  consumers: Map<string, CachedFluxObject>;
  /** The delivery repository the source was found through (for its Git host). */
  repository?: ParsedRepositoryUrl;
}

const keyOf = (o: {
  kind: string;
  metadata: { namespace: string; name: string };
}) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
const refOf = (o: CachedFluxObject): FluxObjectRef => ({
  kind: o.kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
});

/** `./apps/podinfo/dev/` → `apps/podinfo/dev`; `./` → ``. */
function normalizePath(path: string): string {
  return path
    .split('/')
    .filter(segment => segment !== '' && segment !== '.')
    .join('/');
}

/** Whether `path` equals `base` or lies under it. */
export function isUnder(path: string, base: string): boolean {
  const p = normalizePath(path);
  const b = normalizePath(base);
  return b === '' || p === b || p.startsWith(`${b}/`);
}

/** The branch, tag, ref name or semver range a source follows. */
function refsOf(source: CachedFluxObject): string[] {
  const ref = (source.spec.ref ?? {}) as Record<string, unknown>;
  return ['branch', 'tag', 'semver', 'name', 'commit', 'digest']
    .map(field => ref[field])
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .map(v => v.replace(/^refs\/(heads|tags)\//, ''));
}

function branchOf(source: CachedFluxObject): string | undefined {
  const ref = (source.spec.ref ?? {}) as Record<string, unknown>;
  if (typeof ref.branch === 'string' && ref.branch) return ref.branch;
  if (typeof ref.name === 'string' && ref.name.startsWith('refs/heads/')) {
    return ref.name.slice('refs/heads/'.length);
  }
  return undefined;
}

/** Whether the source follows a fixed tag, commit or semver range instead of a branch. */
function followsFixedRef(source: CachedFluxObject): boolean {
  const ref = (source.spec.ref ?? {}) as Record<string, unknown>;
  return (
    ['tag', 'semver', 'commit'].some(f => typeof ref[f] === 'string') ||
    (typeof ref.name === 'string' && !ref.name.startsWith('refs/heads/'))
  );
}

/** The path a consumer applies from its source: a Kustomization's path, a Git chart's path. */
export function consumerPath(consumer: CachedFluxObject): string | undefined {
  if (consumer.kind === 'Kustomization') {
    return typeof consumer.spec.path === 'string' ? consumer.spec.path : '';
  }
  const chart = (consumer.spec.chart as { spec?: { chart?: unknown } })?.spec
    ?.chart;
  return typeof chart === 'string' ? chart : undefined;
}

/**
 * An entity's GitOps status, assembled from the Flux cache (never a cluster call) and,
 * for Git repositories on a configured GitLab, the branch heads.
 */
export class EntityStatusService {
  private readonly git: GitLabRepositories;

  static create(options: EntityStatusServiceOptions): EntityStatusService {
    return new EntityStatusService(options);
  }

  private constructor(private readonly options: EntityStatusServiceOptions) {
    this.git = GitLabRepositories.fromConfig(options.config, {
      ttlMs: options.gitHostCacheTtlMs,
    });
  }

  /**
   * `viewer.unreadable` names (as `ownedObjectKey`s) the objects the caller may not read;
   * they are left out before any Git host is asked about them, and counted per cluster.
   * With `gitHost: false` no Git host is asked at all (no heads, no commits behind): the
   * objects only, from the cache.
   */
  async getStatus(
    entityRef: string,
    entity: Entity,
    options: { viewer?: StatusViewer; gitHost?: boolean } = {},
  ): Promise<EntityStatus> {
    const { viewer, gitHost = true } = options;
    const { cache } = this.options;
    const deliveries = (
      await this.options.deliveries.listForEntity(entity)
    ).map(parseDelivery);
    const clusterNames = this.clustersOf(deliveries);
    const kubernetesId =
      entity.metadata.annotations?.[ANNOTATION_KUBERNETES_ID]?.trim();

    const drafts = new Map<string, Map<string, ChainDraft>>(
      clusterNames.map(name => [name, new Map()]),
    );
    for (const delivery of deliveries) {
      if (delivery.parsed) this.discover(delivery, drafts);
    }
    const loose = new Map<string, CachedFluxObject[]>(
      clusterNames.map(name => [name, []]),
    );
    if (kubernetesId) {
      for (const object of cache.byKubernetesId(kubernetesId)) {
        const chains = drafts.get(object.cluster);
        if (chains) this.placeLabelled(object, kubernetesId, chains, loose);
      }
    }

    const hidden = viewer
      ? await this.hideUnreadable(viewer, drafts, loose)
      : new Map<string, number>();

    const heads: Heads = gitHost
      ? await this.readHeads(deliveries, drafts)
      : new Map();
    const clusters = await Promise.all(
      clusterNames.map(name =>
        this.clusterStatus(
          name,
          drafts.get(name)!,
          loose.get(name)!,
          heads,
          hidden.get(name) ?? 0,
        ),
      ),
    );
    return {
      entityRef,
      clusters,
      repositories: deliveries.map(d => repositoryStatus(d, heads)),
    };
  }

  /**
   * Drops what the viewer may not read. A source shared with other teams stays while it
   * feeds a consumer the viewer may read (it is that consumer's context: one repository
   * for many teams is common); alone, it goes. Returns how many objects were dropped per
   * cluster.
   */
  private async hideUnreadable(
    viewer: StatusViewer,
    drafts: Map<string, Map<string, ChainDraft>>,
    loose: Map<string, CachedFluxObject[]>,
  ): Promise<Map<string, number>> {
    const all = [
      ...[...drafts.values()].flatMap(chains =>
        [...chains.values()].flatMap(chain => [
          chain.source,
          ...chain.consumers.values(),
        ]),
      ),
      ...[...loose.values()].flat(),
    ];
    const hidden = new Map<string, number>();
    if (all.length === 0) return hidden;
    const unreadable = await viewer.unreadable(all);
    const isHidden = (o: CachedFluxObject) =>
      unreadable.has(ownedObjectKey(ownedKeyOf(o)));
    const count = (cluster: string, n: number) =>
      n > 0 && hidden.set(cluster, (hidden.get(cluster) ?? 0) + n);
    for (const [cluster, chains] of drafts) {
      for (const [key, chain] of chains) {
        for (const [consumerKey, consumer] of chain.consumers) {
          if (isHidden(consumer)) {
            chain.consumers.delete(consumerKey);
            count(cluster, 1);
          }
        }
        if (isHidden(chain.source) && chain.consumers.size === 0) {
          chains.delete(key);
          count(cluster, 1);
        }
      }
    }
    for (const [cluster, objects] of loose) {
      const kept = objects.filter(o => !isHidden(o));
      count(cluster, objects.length - kept.length);
      loose.set(cluster, kept);
    }
    return hidden;
  }

  /** Every cluster the cache knows, narrowed to the repositories' `clusters` when all set them. */
  private clustersOf(deliveries: ParsedDelivery[]): string[] {
    const all = this.options.cache.clusterNames();
    const lists = deliveries.map(d => d.repository.clusters);
    if (lists.length === 0 || lists.some(list => !list?.length)) return all;
    const wanted = new Set(lists.flatMap(list => list ?? []));
    return all.filter(name => wanted.has(name));
  }

  private discover(
    delivery: ParsedDelivery,
    drafts: Map<string, Map<string, ChainDraft>>,
  ) {
    const { repository, parsed } = delivery;
    for (const source of this.options.cache.sourcesByUrl(parsed!.normalized)) {
      const chains = drafts.get(source.cluster);
      if (!chains) continue;
      if (
        repository.clusters?.length &&
        !repository.clusters.includes(source.cluster)
      ) {
        continue;
      }
      if (repository.ref && !refsOf(source).includes(repository.ref)) continue;
      const chain = draftFor(chains, source, parsed);
      for (const consumer of this.options.cache.consumersOfSource(
        source.cluster,
        refOf(source),
      )) {
        const path = consumerPath(consumer);
        if (
          repository.path &&
          (path === undefined || !isUnder(path, repository.path))
        ) {
          continue;
        }
        chain.consumers.set(keyOf(consumer), consumer);
      }
    }
  }

  /**
   * A labelled consumer joins its source's chain; a labelled source gets a chain with its
   * labelled consumers; anything else (or a consumer whose source is not known) is listed
   * on its own.
   */
  private placeLabelled(
    object: CachedFluxObject,
    kubernetesId: string,
    chains: Map<string, ChainDraft>,
    loose: Map<string, CachedFluxObject[]>,
  ) {
    const key = keyOf(object);
    const inChain = [...chains.values()].some(
      chain => keyOf(chain.source) === key || chain.consumers.has(key),
    );
    if (inChain) return;
    const { cache } = this.options;
    if (CONSUMER_KINDS.includes(object.kind)) {
      const sourceRef = fluxKinds[object.kind].sourceOf(object);
      const source =
        sourceRef &&
        cache.get(
          object.cluster,
          sourceRef.kind,
          sourceRef.namespace,
          sourceRef.name,
        );
      if (source) {
        draftFor(chains, source).consumers.set(key, object);
        return;
      }
    } else if (SOURCE_KINDS.includes(object.kind)) {
      const chain = draftFor(chains, object);
      for (const consumer of cache.consumersOfSource(
        object.cluster,
        refOf(object),
      )) {
        if (
          consumer.metadata.labels?.[ANNOTATION_KUBERNETES_ID] === kubernetesId
        ) {
          chain.consumers.set(keyOf(consumer), consumer);
        }
      }
      return;
    }
    loose.get(object.cluster)!.push(object);
  }

  /**
   * The head of every branch the entity's Git sources follow, per repository; a failure
   * is kept per repository and branch, never thrown.
   */
  private async readHeads(
    deliveries: ParsedDelivery[],
    drafts: Map<string, Map<string, ChainDraft>>,
  ): Promise<Heads> {
    const heads: Heads = new Map();
    const wanted = new Map<
      string,
      { parsed: ParsedRepositoryUrl; branches: Set<string | undefined> }
    >();
    const want = (parsed: ParsedRepositoryUrl, branch: string | undefined) => {
      if (!this.git.handles(parsed)) return;
      const entry = wanted.get(parsed.normalized) ?? {
        parsed,
        branches: new Set(),
      };
      entry.branches.add(branch);
      wanted.set(parsed.normalized, entry);
    };
    for (const { parsed, repository } of deliveries) {
      if (parsed) want(parsed, repository.ref);
    }
    // The commits sources following each branch hold, to spot a head read before a push.
    const seenShas = new Map<string, Set<string>>();
    for (const chains of drafts.values()) {
      for (const chain of chains.values()) {
        if (
          chain.repository &&
          chain.source.kind === 'GitRepository' &&
          !followsFixedRef(chain.source)
        ) {
          const branch = branchOf(chain.source);
          want(chain.repository, branch);
          const sha = shaOfRevision(
            toStatusItem(chain.source, []).artifactRevision,
          );
          if (sha) {
            const key = headKey(chain.repository, branch);
            seenShas.set(key, (seenShas.get(key) ?? new Set()).add(sha));
          }
        }
      }
    }
    await Promise.all(
      [...wanted.values()].flatMap(({ parsed, branches }) =>
        [...branches].map(async requested => {
          const key = headKey(parsed, requested);
          try {
            const branch = requested ?? (await this.git.defaultBranch(parsed));
            heads.set(key, {
              branch,
              commit: await this.git.head(
                parsed,
                branch,
                seenShas.get(headKey(parsed, branch)) ??
                  seenShas.get(key) ??
                  [],
              ),
            });
          } catch (error) {
            heads.set(key, { branch: requested, error: stringifyError(error) });
          }
        }),
      ),
    );
    return heads;
  }

  private async clusterStatus(
    name: string,
    chains: Map<string, ChainDraft>,
    loose: CachedFluxObject[],
    heads: Heads,
    hiddenObjects: number,
  ): Promise<ClusterStatus> {
    const health = this.options.cache.health(name);
    const item = (object: CachedFluxObject) =>
      toStatusItem(object, this.options.cache.events(name, refOf(object)));
    const built: FluxChain[] = await Promise.all(
      [...chains.values()].map(async chain => ({
        source: await this.withCommitsBehind(item(chain.source), chain, heads),
        consumers: [...chain.consumers.values()].map(item),
      })),
    );
    const status: ClusterStatus = {
      name,
      stale: health.stale,
      chains: built,
      kubernetesIdObjects: loose.map(item),
    };
    if (hiddenObjects > 0) status.hiddenObjects = hiddenObjects;
    if (health.stale && health.staleSince)
      status.staleSince = health.staleSince;
    if (health.stale && health.lastError)
      status.error = health.lastError.message;
    return status;
  }

  private async withCommitsBehind(
    source: FluxStatusItem,
    chain: ChainDraft,
    heads: Heads,
  ): Promise<FluxStatusItem> {
    if (!chain.repository || chain.source.kind !== 'GitRepository')
      return source;
    const head = heads.get(headKey(chain.repository, branchOf(chain.source)));
    const sha = shaOfRevision(source.artifactRevision);
    if (!head?.commit || !sha) return source;
    try {
      const behind = await this.git.commitsBetween(
        chain.repository,
        sha,
        head.commit.sha,
      );
      return { ...source, commitsBehind: behind };
    } catch (error) {
      this.options.logger.warn(
        `Could not count the commits ${chain.source.kind}/${
          chain.source.metadata.name
        } on ${chain.source.cluster} is behind: ${stringifyError(error)}`,
      );
      return source;
    }
  }
}

type Heads = Map<
  string,
  { branch?: string; commit?: RepositoryStatus['headCommit']; error?: string }
>;

function headKey(parsed: ParsedRepositoryUrl, branch: string | undefined) {
  return `${parsed.normalized}#${branch ?? ''}`;
}

function draftFor(
  chains: Map<string, ChainDraft>,
  source: CachedFluxObject,
  repository?: ParsedRepositoryUrl,
): ChainDraft {
  const key = keyOf(source);
  let chain = chains.get(key);
  if (!chain) {
    chain = { source, consumers: new Map(), repository };
    chains.set(key, chain);
  }
  chain.repository ??= repository;
  return chain;
}

function parseDelivery(repository: DeliveryRepository): ParsedDelivery {
  try {
    return { repository, parsed: parseRepositoryUrl(repository.url) };
  } catch (error) {
    return { repository, error: stringifyError(error) };
  }
}

function repositoryStatus(
  { repository, parsed, error }: ParsedDelivery,
  heads: Heads,
): RepositoryStatus {
  const status: RepositoryStatus = {
    url: repository.url,
    kind: repository.kind,
  };
  if (repository.ref) status.branch = repository.ref;
  if (error) return { ...status, error };
  const head = parsed && heads.get(headKey(parsed, repository.ref));
  if (!head) return status;
  if (head.branch) status.branch = head.branch;
  if (head.commit) status.headCommit = head.commit;
  if (head.error) status.error = head.error;
  return status;
}
