import {
  BackstageCredentials,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  gitopsEntityReconcilePermission,
  InvalidRepositoryUrlError,
  Operation,
  parseRepositoryUrl,
  ParsedRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import type { Request } from 'express';
import { z } from 'zod';
import { OperationRunner } from '../actions/OperationRunner';
import { FluxCache } from '../cache';
import { CachedFluxObject } from '../cache/types';
import { CommitStatusReporter } from '../commitStatus';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { deliveryEntityOf } from '../deliveryRepositories/entityOfObject';
import { allowedEntityRefs } from '../service/requestHelpers';

/** `POST /notify`: what a CI pipeline says it pushed. */
export const notifyBodySchema = z
  .object({
    /** The delivery repository: a Git URL, or the `oci://` URL of the artifact. */
    repository: z.string().min(1).max(2048),
    /** The Git commit pushed, or the one an OCI artifact was built from. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/, 'must be a full 40-character commit sha')
      .optional(),
    /** OCI only: the tag pushed. */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'is not an OCI tag')
      .optional(),
    /** OCI only: the digest pushed. */
    digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>')
      .optional(),
  })
  .strict();

export type NotifyInput = z.infer<typeof notifyBodySchema>;

interface Target {
  cluster: string;
  source: CachedFluxObject;
  object: CachedFluxObject;
  entityRef: string;
}

/**
 * Turns a CI "I pushed" notification into syncs: every Flux source on the clusters the
 * repository is registered for that follows what was pushed is reconciled with its
 * Kustomizations (as `flux reconcile kustomization --with-source`), each as an
 * operation followed to Ready; with a commit, the commit gets its statuses.
 */
export class DeliveryNotifier {
  constructor(
    private readonly options: {
      cache: Pick<FluxCache, 'sourcesByUrl' | 'consumersOfSource'>;
      deliveries: Pick<DeliveryRepositoryStore, 'list'>;
      runner: Pick<OperationRunner, 'start'>;
      reporter?: Pick<CommitStatusReporter, 'follow'>;
      permissions: PermissionsService;
      logger: LoggerService;
    },
  ) {}

  async notify(
    input: NotifyInput,
    caller: {
      credentials: BackstageCredentials;
      requestedBy: string;
      request?: Request;
    },
  ): Promise<Operation[]> {
    const repository = parseRepository(input);
    const deliveries = await this.options.deliveries.list({
      normalizedUrl: repository.normalized,
    });
    if (deliveries.length === 0) {
      throw new NotFoundError(
        `${input.repository} is not a registered delivery repository`,
      );
    }
    const clusters = deliveries.some(d => !d.clusters)
      ? undefined
      : new Set(deliveries.flatMap(d => d.clusters ?? []));
    const sources = this.options.cache
      .sourcesByUrl(repository.normalized)
      .filter(source => !clusters || clusters.has(source.cluster))
      .filter(source => follows(source, input));
    if (sources.length === 0) {
      throw new NotFoundError(
        `No Flux source on ${
          clusters ? [...clusters].join(', ') : 'any cluster'
        } follows ${input.repository}${input.tag ? `:${input.tag}` : ''}`,
      );
    }

    const targets = await this.targetsOf(sources, deliveries[0].entityRef);
    const entityRefs = [...new Set(targets.map(t => t.entityRef))];
    const allowed = await allowedEntityRefs(
      this.options.permissions,
      gitopsEntityReconcilePermission,
      entityRefs,
      caller.credentials,
    );
    const denied = entityRefs.filter(ref => !allowed.has(ref));
    if (denied.length > 0) {
      throw new NotAllowedError(
        `Not allowed to ${
          gitopsEntityReconcilePermission.name
        } on ${denied.join(', ')}`,
      );
    }
    const runnable = targets.filter(t => !t.object.spec.suspend);
    if (runnable.length === 0) {
      throw new ConflictError(
        `${targets
          .map(t => `${describe(t.object)} on ${t.cluster}`)
          .join(', ')}: resource is suspended`,
      );
    }

    const started: Operation[] = [];
    for (const target of runnable) {
      const { kind, namespace, name } = {
        kind: target.object.kind,
        ...target.object.metadata,
      };
      started.push(
        await this.options.runner.start(
          {
            entityRef: target.entityRef,
            cluster: target.cluster,
            target: { kind, namespace, name },
            action: 'reconcile',
            withSource: target.object !== target.source,
            requestedBy: caller.requestedBy,
          },
          { request: caller.request },
        ),
      );
    }
    this.options.logger.info(
      `${caller.requestedBy} notified a push to ${input.repository}${
        input.commit ? ` (${input.commit.slice(0, 8)})` : ''
      }: ${started.length} sync(s) started`,
    );
    if (input.commit) this.report(sources, input.commit);
    return started;
  }

  /** The Kustomizations of each source, or the source itself when nothing consumes it. */
  private async targetsOf(
    sources: CachedFluxObject[],
    fallbackEntityRef: string,
  ): Promise<Target[]> {
    const targets: Target[] = [];
    for (const source of sources) {
      const ref = {
        kind: source.kind,
        namespace: source.metadata.namespace,
        name: source.metadata.name,
      };
      const consumers = this.options.cache
        .consumersOfSource(source.cluster, ref)
        .filter(consumer => consumer.kind === 'Kustomization');
      for (const object of consumers.length ? consumers : [source]) {
        const entityRef =
          (await deliveryEntityOf(
            this.options.deliveries,
            source.cluster,
            source,
            object === source ? undefined : object,
          )) ?? fallbackEntityRef;
        targets.push({ cluster: source.cluster, source, object, entityRef });
      }
    }
    return targets;
  }

  private report(sources: CachedFluxObject[], sha: string) {
    const { reporter, logger } = this.options;
    for (const source of sources) {
      reporter
        ?.follow({
          cluster: source.cluster,
          source: {
            kind: source.kind,
            namespace: source.metadata.namespace,
            name: source.metadata.name,
          },
          sha,
        })
        .catch(error =>
          logger.warn(`Reporting the sync of ${sha} failed: ${String(error)}`),
        );
    }
  }
}

function parseRepository(input: NotifyInput): ParsedRepositoryUrl {
  let repository: ParsedRepositoryUrl;
  try {
    repository = parseRepositoryUrl(input.repository);
  } catch (error) {
    if (error instanceof InvalidRepositoryUrlError) {
      throw new InputError(error.message);
    }
    throw error;
  }
  if (repository.kind === 'git' && (input.tag || input.digest)) {
    throw new InputError(
      `tag and digest name OCI artifacts; ${input.repository} is a Git repository`,
    );
  }
  return repository;
}

/** Whether a source would pick up what was pushed (a source pinned elsewhere would not). */
function follows(source: CachedFluxObject, input: NotifyInput): boolean {
  const ref = (source.spec.ref ?? {}) as Record<string, unknown>;
  if (source.kind === 'GitRepository') {
    return !ref.commit || !input.commit || ref.commit === input.commit;
  }
  if (source.kind !== 'OCIRepository') return false;
  if (typeof ref.digest === 'string') {
    return !input.digest || ref.digest === input.digest;
  }
  if (input.tag && typeof ref.tag === 'string') return ref.tag === input.tag;
  // A semver range may select the new tag; no ref follows `latest`.
  return true;
}

function describe(object: CachedFluxObject): string {
  return `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`;
}
