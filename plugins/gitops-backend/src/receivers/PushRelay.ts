import { LoggerService } from '@backstage/backend-plugin-api';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { z } from 'zod';
import { CommitStatusReporter } from '../commitStatus';
import { ReceiverStore } from '../database/ReceiverStore';
import { ReceiverTrigger, TriggerOutcome } from './ReceiverTrigger';

/** The topics the events backend's GitLab and GitHub modules publish pushes on. */
export const PUSH_TOPICS = ['gitlab.push', 'github.push'];

const DELIVERY_IDS_KEPT = 1_000;

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

function header(metadata: Metadata, name: string): string | undefined {
  const value = metadata?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** What a push event says: the repository's URLs, and the ref and commit it moved to. */
export interface Push {
  urls: string[];
  ref?: string;
  /** The new head; absent when the ref was deleted. */
  sha?: string;
}

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

/**
 * Turns Git host push events (already authenticated by the events backend's GitLab
 * token / GitHub signature check) into calls of the managed Receivers of the pushed
 * repository's GitRepositories, found through the store's repository index. A
 * delivery seen before (by its `X-Gitlab-Event-UUID` / `X-GitHub-Delivery`) is
 * ignored, as Git hosts redeliver.
 */
export class PushRelay {
  private readonly seenDeliveries = new Set<string>();

  constructor(
    private readonly options: {
      store: Pick<ReceiverStore, 'list'>;
      trigger: Pick<ReceiverTrigger, 'trigger'>;
      /** Reports the pushed commit's sync back to the Git host. */
      reporter?: Pick<CommitStatusReporter, 'follow'>;
      logger: LoggerService;
    },
  ) {}

  async handle(event: {
    topic: string;
    eventPayload: unknown;
    metadata?: Metadata;
  }): Promise<Array<{ receiver: ManagedReceiver } & TriggerOutcome>> {
    const { logger } = this.options;
    const deliveryId =
      header(event.metadata, 'x-gitlab-event-uuid') ??
      header(event.metadata, 'x-github-delivery');
    if (deliveryId) {
      if (this.seenDeliveries.has(deliveryId)) {
        logger.info(`Ignoring push delivery ${deliveryId}: already handled`);
        return [];
      }
      this.remember(deliveryId);
    }
    let push: Push;
    try {
      push = readPush(event.topic, event.eventPayload);
    } catch (error) {
      logger.warn(
        `Ignoring a ${event.topic} event without a repository URL: ${String(
          error,
        )}`,
      );
      return [];
    }
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

  private remember(deliveryId: string) {
    this.seenDeliveries.add(deliveryId);
    if (this.seenDeliveries.size > DELIVERY_IDS_KEPT) {
      // Sets iterate in insertion order: the oldest goes first.
      const [oldest] = this.seenDeliveries;
      this.seenDeliveries.delete(oldest);
    }
  }
}
