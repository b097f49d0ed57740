import { LoggerService } from '@backstage/backend-plugin-api';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { randomUUID } from 'crypto';
import { z } from 'zod';
import { CommitStatusReporter } from '../commitStatus';
import {
  Push,
  PushDelivery,
  PushDeliveryStore,
} from '../database/PushDeliveryStore';
import { ReceiverStore } from '../database/ReceiverStore';
import { ReceiverTrigger, TriggerOutcome } from './ReceiverTrigger';

/** The topics the events backend's GitLab and GitHub modules publish pushes on. */
export const PUSH_TOPICS = ['gitlab.push', 'github.push'];

/** How long an accepted delivery's id is kept to recognise a redelivery. */
const DELIVERY_IDS_KEPT_MS = 24 * 60 * 60 * 1000;

const sha = z
  .string()
  .regex(/^[0-9a-f]{40}$/)
  .nullish()
  .catch(undefined);

const gitlabPush = z.object({
  ref: z.string().optional().catch(undefined),
  after: sha,
  checkout_sha: sha,
  project: z.object({
    git_http_url: z.string().optional(),
    git_ssh_url: z.string().optional(),
    web_url: z.string().optional(),
  }),
});
const githubPush = z.object({
  ref: z.string().optional().catch(undefined),
  after: sha,
  deleted: z.boolean().optional().catch(undefined),
  repository: z.object({
    clone_url: z.string().optional(),
    ssh_url: z.string().optional(),
    html_url: z.string().optional(),
  }),
});

type Metadata = Record<string, string | string[] | undefined> | undefined;

/** An event of one of the {@link PUSH_TOPICS}, as the events service delivers it. */
export interface PushEvent {
  topic: string;
  eventPayload: unknown;
  metadata?: Metadata;
}

function header(metadata: Metadata, name: string): string | undefined {
  const value = metadata?.[name];
  return Array.isArray(value) ? value[0] : value;
}

export type { Push };

const DELETED = '0'.repeat(40);
const present = (url: string | undefined): url is string => !!url;

/** Reads a push event, or throws an error naming what is missing. */
export function readPush(topic: string, payload: unknown): Push {
  if (topic === 'gitlab.push') {
    const push = gitlabPush.parse(payload);
    const { project } = push;
    // `checkout_sha` is null when the branch was deleted; `after` is then all zeros.
    const head = push.checkout_sha ?? push.after ?? undefined;
    return {
      urls: [project.git_http_url, project.git_ssh_url, project.web_url].filter(
        present,
      ),
      ref: push.ref,
      sha: head && head !== DELETED ? head : undefined,
    };
  }
  const push = githubPush.parse(payload);
  const { repository } = push;
  return {
    urls: [
      repository.clone_url,
      repository.ssh_url,
      repository.html_url,
    ].filter(present),
    ref: push.ref,
    sha:
      push.after && !push.deleted && push.after !== DELETED
        ? push.after
        : undefined,
  };
}

type Outcome = { receiver: ManagedReceiver } & TriggerOutcome;

/**
 * Turns Git host push events (already authenticated by the events backend's GitLab
 * token / GitHub signature check) into calls of the managed Receivers of the pushed
 * repository's GitRepositories, found through the store's repository index.
 *
 * A delivery is first recorded in the database, leased to this instance: one seen
 * before (by its `X-Gitlab-Event-UUID` / `X-GitHub-Delivery`, on any replica) is
 * ignored, as Git hosts redeliver; one whose instance died before relaying it is
 * relayed by another (`adoptAbandoned`).
 */
export class PushRelay {
  private readonly instanceId: string;
  private readonly leaseMs: number;

  constructor(
    private readonly options: {
      store: Pick<ReceiverStore, 'list'>;
      deliveries: PushDeliveryStore;
      trigger: Pick<ReceiverTrigger, 'trigger'>;
      /** Reports the pushed commit's sync back to the Git host. */
      reporter?: Pick<CommitStatusReporter, 'follow'>;
      logger: LoggerService;
      /** Identifies this backend instance among replicas. Default: a random id. */
      instanceId?: string;
      /** How long a delivery stays this instance's to relay. Default 60 s. */
      leaseMs?: number;
    },
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  /** Accepts and relays a push event, answering with each receiver's outcome. */
  async handle(event: PushEvent): Promise<Outcome[]> {
    const delivery = await this.accept(event);
    return delivery ? this.relay(delivery) : [];
  }

  /**
   * Records the delivery (the Git host may be answered once this resolved); undefined
   * when it is a redelivery or names no repository.
   */
  async accept(event: PushEvent): Promise<PushDelivery | undefined> {
    const { logger } = this.options;
    let push: Push;
    try {
      push = readPush(event.topic, event.eventPayload);
    } catch (error) {
      logger.warn(
        `Ignoring a ${event.topic} event without a repository URL: ${String(
          error,
        )}`,
      );
      return undefined;
    }
    const id =
      header(event.metadata, 'x-gitlab-event-uuid') ??
      header(event.metadata, 'x-github-delivery') ??
      randomUUID();
    const delivery = { id, topic: event.topic, push };
    if (!(await this.options.deliveries.accept(delivery, this.lease()))) {
      logger.info(`Ignoring push delivery ${id}: already handled`);
      return undefined;
    }
    return delivery;
  }

  /** Calls the receivers of an accepted delivery, then marks it done. */
  async relay(delivery: PushDelivery): Promise<Outcome[]> {
    const outcomes = await this.callReceivers(delivery.push);
    await this.options.deliveries.finish(delivery.id);
    return outcomes;
  }

  /** Relays the deliveries whose instance died before it could; forgets old ones. */
  async adoptAbandoned(): Promise<void> {
    const { deliveries, logger } = this.options;
    for (const delivery of await deliveries.claimAbandoned(this.lease())) {
      logger.info(
        `Relaying push delivery ${delivery.id}, left by an instance that stopped`,
      );
      await this.relay(delivery);
    }
    await deliveries.prune(new Date(Date.now() - DELIVERY_IDS_KEPT_MS));
  }

  private lease() {
    return {
      owner: this.instanceId,
      until: new Date(Date.now() + this.leaseMs),
    };
  }

  private async callReceivers(push: Push): Promise<Outcome[]> {
    const { logger } = this.options;
    const repositories = new Set<string>();
    const { urls } = push;
    for (const url of urls) {
      try {
        repositories.add(parseRepositoryUrl(url).normalized);
      } catch {
        // web_url / html_url may not parse as a Git URL: the clone URLs suffice.
      }
    }
    const receivers = (
      await Promise.all(
        [...repositories].map(repository =>
          this.options.store.list({ repository }),
        ),
      )
    )
      .flat()
      .filter(receiver => receiver.source.kind === 'GitRepository');
    if (receivers.length === 0) {
      logger.debug(`No managed receiver for the push to ${urls.join(', ')}`);
    }
    return Promise.all(
      receivers.map(async receiver => {
        const outcome = await this.options.trigger.trigger(receiver);
        this.report(receiver, push);
        return { receiver, ...outcome };
      }),
    );
  }

  /** Follows the sync in the background: the push is answered already. */
  private report(receiver: ManagedReceiver, push: Push) {
    const { reporter, logger } = this.options;
    if (!reporter || !push.sha) return;
    reporter
      .follow({
        cluster: receiver.cluster,
        source: {
          kind: receiver.source.kind,
          namespace: receiver.namespace,
          name: receiver.source.name,
        },
        sha: push.sha,
        ref: push.ref,
      })
      .catch(error =>
        logger.warn(
          `Reporting the sync of ${push.sha} failed: ${String(error)}`,
        ),
      );
  }
}
