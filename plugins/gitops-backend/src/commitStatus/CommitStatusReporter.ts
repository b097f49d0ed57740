import { LoggerService } from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { parseEntityRef } from '@backstage/catalog-model';
import { durationToMilliseconds } from '@backstage/types';
import {
  parseRepositoryUrl,
  ParsedRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { FluxObjectRef } from '../actions/fluxKinds';
import { FluxCache } from '../cache';
import { CachedFluxObject } from '../cache/types';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { deliveryEntityOf } from '../deliveryRepositories/entityOfObject';
import { CommitStatus, describeGitHostError, GitHosts } from '../gitHosts';
import {
  fluxStatusOf,
  OCI_REVISION,
  OCI_SOURCE,
  shaOfRevision,
} from '../status/statusItem';

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_POLL_MS = 1_000;
/** A commit reported on this long ago is not reported again for a repeated push. */
const REPORTED_KEPT_MS = 10 * 60 * 1000;
const REPORTED_KEPT_MAX = 1_000;

export interface CommitStatusSettings {
  /** `gitops.commitStatus.enabled` (default true). */
  enabled: boolean;
  /** How long a sync may take before the commit gets `failed` (default 10 minutes). */
  timeoutMs: number;
  /** The app's URL (`app.baseUrl`), for the statuses' link to the entity's GitOps tab. */
  appBaseUrl?: string;
}

export function readCommitStatusSettings(config: Config): CommitStatusSettings {
  const timeout = config.has('gitops.commitStatus.timeout')
    ? durationToMilliseconds(
        readDurationFromConfig(config, { key: 'gitops.commitStatus.timeout' }),
      )
    : DEFAULT_TIMEOUT_MS;
  return {
    enabled: config.getOptionalBoolean('gitops.commitStatus.enabled') ?? true,
    timeoutMs: timeout,
    appBaseUrl: config.getOptionalString('app.baseUrl')?.replace(/\/+$/, ''),
  };
}

/** How waiting for a Kustomization ended. */
interface SyncEnd {
  state: 'success' | 'failed' | 'canceled';
  message: string;
}

/** A sync the backend set off (a push through a receiver, or a CI notify). */
export interface TriggeredSync {
  cluster: string;
  source: FluxObjectRef;
  /** The commit to report on: the pushed one, or the one an OCI artifact was built from. */
  sha: string;
  /** For a push: the pushed ref, e.g. `refs/heads/main`; a source following another ref is skipped. */
  ref?: string;
  /** The Git repository of the commit when the source does not name it (OCI without `org.opencontainers.image.source`). */
  gitRepository?: ParsedRepositoryUrl;
}

/** How a Kustomization's sync of a commit ended. */
export interface SyncOutcome {
  cluster: string;
  kustomization: FluxObjectRef;
  sha: string;
  /** `canceled`: a newer commit reached the source before this one was applied. */
  state: SyncEnd['state'];
  description: string;
  /** The entity whose delivery the Kustomization applies, when one is registered. */
  entityRef?: string;
  targetUrl?: string;
  durationMs: number;
}

/**
 * Reports a triggered sync back on the commit: `pending` at once, then `success` or
 * `failed` per cluster and Kustomization (context `gitops/<cluster>/<namespace>/<name>`),
 * linking to the entity's GitOps tab. It follows the watch cache, so it asks no cluster:
 * a Kustomization has synced the commit when it applied the source artifact holding it
 * and is Ready; it failed when its attempt at that artifact left it not Ready.
 */
export class CommitStatusReporter {
  /**
   * Syncs being followed and lately reported, by cluster, Kustomization and commit: a
   * redelivered webhook or the same commit pushed again (to another branch, or a storm of
   * them) joins what is already reported instead of posting the statuses again.
   */
  private readonly following = new Map<string, Promise<SyncOutcome>>();
  private readonly reported = new Map<
    string,
    { outcome: SyncOutcome; at: number }
  >();

  constructor(
    private readonly options: {
      cache: Pick<FluxCache, 'get' | 'consumersOfSource' | 'isStale'>;
      hosts: Pick<GitHosts, 'for'>;
      deliveries: Pick<DeliveryRepositoryStore, 'list'>;
      settings: CommitStatusSettings;
      logger: LoggerService;
      /** Called once per Kustomization when its sync of the commit ended. */
      onOutcome?: (outcome: SyncOutcome) => void | Promise<void>;
      pollMs?: number;
    },
  ) {}

  /** Follows the sync on every Kustomization of the source; resolves when all ended. */
  async follow(sync: TriggeredSync): Promise<SyncOutcome[]> {
    if (!this.options.settings.enabled) return [];
    const { cache, logger } = this.options;
    const source = cache.get(
      sync.cluster,
      sync.source.kind,
      sync.source.namespace,
      sync.source.name,
    );
    if (!source || (sync.ref && !followsRef(source, sync.ref))) return [];
    const gitRepository = sync.gitRepository ?? commitRepositoryOf(source);
    const host = gitRepository && this.options.hosts.for(gitRepository);
    if (!gitRepository || !host) {
      logger.debug(
        `No Git host to report ${sync.sha} of ${sync.source.kind} ${sync.source.namespace}/${sync.source.name} to`,
      );
      return [];
    }
    const kustomizations = cache
      .consumersOfSource(sync.cluster, sync.source)
      .filter(consumer => consumer.kind === 'Kustomization');
    return Promise.all(
      kustomizations.map(kustomization => {
        const ref = {
          kind: 'Kustomization' as const,
          namespace: kustomization.metadata.namespace,
          name: kustomization.metadata.name,
        };
        const key = `${sync.cluster}/${ref.namespace}/${ref.name}@${sync.sha}`;
        const reported = this.reported.get(key);
        if (reported && Date.now() - reported.at < REPORTED_KEPT_MS) {
          return reported.outcome;
        }
        let running = this.following.get(key);
        if (!running) {
          running = this.report(sync, source, kustomization, ref, {
            gitRepository,
            host,
          })
            .then(outcome => {
              this.remember(key, outcome);
              return outcome;
            })
            .finally(() => this.following.delete(key));
          this.following.set(key, running);
        }
        return running;
      }),
    );
  }

  private remember(key: string, outcome: SyncOutcome) {
    this.reported.set(key, { outcome, at: Date.now() });
    if (this.reported.size > REPORTED_KEPT_MAX) {
      // Maps iterate in insertion order: the oldest goes first.
      const [oldest] = this.reported.keys();
      this.reported.delete(oldest);
    }
  }

  /** Posts pending, waits for the Kustomization's sync of the commit, posts how it ended. */
  private async report(
    sync: TriggeredSync,
    source: CachedFluxObject,
    kustomization: CachedFluxObject,
    ref: FluxObjectRef & { kind: 'Kustomization' },
    target: {
      gitRepository: ParsedRepositoryUrl;
      host: NonNullable<ReturnType<GitHosts['for']>>;
    },
  ): Promise<SyncOutcome> {
    const { logger } = this.options;
    const { gitRepository, host } = target;
    const started = Date.now();
    const entityRef = await deliveryEntityOf(
      this.options.deliveries,
      sync.cluster,
      source,
      kustomization,
    );
    const targetUrl = entityRef && this.tabUrl(entityRef);
    const context = `gitops/${sync.cluster}/${ref.namespace}/${ref.name}`;
    const post = (status: Omit<CommitStatus, 'context' | 'targetUrl'>) =>
      host
        .setCommitStatus(gitRepository, sync.sha, {
          ...status,
          context,
          targetUrl,
        })
        .catch(error =>
          logger.warn(
            `Could not set the ${status.state} status of ${sync.sha.slice(
              0,
              8,
            )} on ${gitRepository.path}: ${describeGitHostError(error)}`,
          ),
        );
    await post({
      state: 'pending',
      description: `Syncing on ${sync.cluster}`,
    });
    const end = await this.waitForEnd(sync, ref);
    const durationMs = Date.now() - started;
    const seconds = (durationMs / 1000).toFixed(1);
    const description = {
      success: `Applied on ${sync.cluster} in ${seconds} s`,
      failed: `Failed on ${sync.cluster}: ${end.message}`,
      canceled: `Superseded on ${sync.cluster}: ${end.message}`,
    }[end.state];
    await post({ state: end.state, description });
    const outcome: SyncOutcome = {
      cluster: sync.cluster,
      kustomization: ref,
      sha: sync.sha,
      state: end.state,
      description,
      entityRef,
      targetUrl,
      durationMs,
    };
    logger.info(
      `Commit ${sync.sha.slice(0, 8)} on ${sync.cluster} ${ref.namespace}/${
        ref.name
      }: ${end.state} (${description})`,
    );
    await this.options.onOutcome?.(outcome);
    return outcome;
  }

  private async waitForEnd(
    sync: TriggeredSync,
    kustomization: FluxObjectRef,
  ): Promise<SyncEnd> {
    const { cache, settings } = this.options;
    const deadline = Date.now() + settings.timeoutMs;
    const pollMs = this.options.pollMs ?? DEFAULT_POLL_MS;
    let waitingFor = 'the source to fetch the commit';
    let initialRevision: string | undefined | null = null;
    for (;;) {
      const source = cache.get(
        sync.cluster,
        sync.source.kind,
        sync.source.namespace,
        sync.source.name,
      );
      const ks = cache.get(
        sync.cluster,
        'Kustomization',
        kustomization.namespace,
        kustomization.name,
      );
      if (!source || !ks) {
        return { state: 'failed', message: 'the object was deleted' };
      }
      const current = fluxStatusOf(source).artifact?.revision;
      if (initialRevision === null) initialRevision = current;
      const artifact = artifactHolding(source, sync.sha);
      if (!artifact && current && current !== initialRevision) {
        // The source moved past the commit (a later push): it will not be applied alone.
        return {
          state: 'canceled',
          message: `the source moved on to ${current}`,
        };
      }
      if (artifact) {
        waitingFor = 'the Kustomization to apply it';
        const status = fluxStatusOf(ks);
        const ready = status.conditions.find(c => c.type === 'Ready');
        const observed =
          ks.metadata.generation === undefined ||
          (status.observedGeneration ?? 0) >= ks.metadata.generation;
        if (
          observed &&
          ready?.status === 'True' &&
          status.lastAppliedRevision === artifact
        ) {
          return { state: 'success', message: ready.message ?? '' };
        }
        if (
          observed &&
          ready?.status === 'False' &&
          status.lastAttemptedRevision === artifact
        ) {
          return {
            state: 'failed',
            message: ready.message ?? ready.reason ?? 'not Ready',
          };
        }
      }
      if (Date.now() >= deadline) {
        return {
          state: 'failed',
          message: `still waiting for ${waitingFor} after ${Math.round(
            settings.timeoutMs / 1000,
          )} s`,
        };
      }
      await new Promise(resolve => setTimeout(resolve, pollMs));
    }
  }

  /**
   * The entity's GitOps tab, built with the URL API below `app.baseUrl`; undefined when
   * the result would not be there (the ref comes from the catalog, not trusted to be tame).
   */
  private tabUrl(entityRef: string): string | undefined {
    const { appBaseUrl } = this.options.settings;
    if (!appBaseUrl) return undefined;
    let base: URL;
    let ref: { kind: string; namespace: string; name: string };
    try {
      base = new URL(appBaseUrl);
      ref = parseEntityRef(entityRef);
    } catch {
      return undefined;
    }
    const prefix = base.pathname.replace(/\/+$/, '');
    const url = new URL(base.origin);
    url.pathname = [
      prefix,
      'catalog',
      ...[ref.namespace, ref.kind.toLocaleLowerCase('en-US'), ref.name].map(
        encodeURIComponent,
      ),
      'gitops',
    ].join('/');
    return url.origin === base.origin &&
      url.pathname.startsWith(`${prefix}/catalog/`)
      ? url.href
      : undefined;
  }
}

/** Whether a GitRepository follows the pushed ref (Flux's default is the `master` branch). */
function followsRef(source: CachedFluxObject, pushedRef: string): boolean {
  if (source.kind !== 'GitRepository') return true;
  const ref = (source.spec.ref ?? {}) as Record<string, unknown>;
  if (typeof ref.name === 'string') return ref.name === pushedRef;
  if (ref.commit || ref.tag || ref.semver) return false;
  const branch = typeof ref.branch === 'string' ? ref.branch : 'master';
  return pushedRef === `refs/heads/${branch}`;
}

/** The source's artifact revision when its artifact holds the commit, else undefined. */
function artifactHolding(
  source: CachedFluxObject,
  sha: string,
): string | undefined {
  const artifact = fluxStatusOf(source).artifact;
  if (!artifact?.revision) return undefined;
  const commit =
    source.kind === 'OCIRepository'
      ? shaOfRevision(artifact.metadata?.[OCI_REVISION])
      : shaOfRevision(artifact.revision);
  return commit === sha ? artifact.revision : undefined;
}

/** The Git repository a source's commits live in: its URL, or an OCI artifact's `org.opencontainers.image.source`. */
function commitRepositoryOf(
  source: CachedFluxObject,
): ParsedRepositoryUrl | undefined {
  const url =
    source.kind === 'OCIRepository'
      ? fluxStatusOf(source).artifact?.metadata?.[OCI_SOURCE]
      : source.spec.url;
  if (typeof url !== 'string') return undefined;
  try {
    const parsed = parseRepositoryUrl(url);
    return parsed.kind === 'git' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
