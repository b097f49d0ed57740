import { LoggerService } from '@backstage/backend-plugin-api';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { z } from 'zod';
import { ReceiverStore } from '../database/ReceiverStore';
import { ReceiverTrigger, TriggerOutcome } from './ReceiverTrigger';

/** The topics the events backend's GitLab and GitHub modules publish pushes on. */
export const PUSH_TOPICS = ['gitlab.push', 'github.push'];

const DELIVERY_IDS_KEPT = 1_000;

const gitlabPush = z.object({
  project: z.object({
    git_http_url: z.string().optional(),
    git_ssh_url: z.string().optional(),
    web_url: z.string().optional(),
  }),
});
const githubPush = z.object({
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

/** The repository URLs a push event names, or an error naming what is missing. */
export function pushedRepositoryUrls(
  topic: string,
  payload: unknown,
): string[] {
  if (topic === 'gitlab.push') {
    const { project } = gitlabPush.parse(payload);
    return [project.git_http_url, project.git_ssh_url, project.web_url].filter(
      (url): url is string => !!url,
    );
  }
  const { repository } = githubPush.parse(payload);
  return [repository.clone_url, repository.ssh_url, repository.html_url].filter(
    (url): url is string => !!url,
  );
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
    let urls: string[];
    try {
      urls = pushedRepositoryUrls(event.topic, event.eventPayload);
    } catch (error) {
      logger.warn(
        `Ignoring a ${event.topic} event without a repository URL: ${String(
          error,
        )}`,
      );
      return [];
    }
    const repositories = new Set<string>();
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
      receivers.map(async receiver => ({
        receiver,
        ...(await this.options.trigger.trigger(receiver)),
      })),
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
