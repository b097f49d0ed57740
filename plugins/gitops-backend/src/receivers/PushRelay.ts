import { LoggerService } from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { ManagedReceiver } from '@backstage-gitops/plugin-gitops-common';
import { parseRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { durationToMilliseconds } from '@backstage/types';
import { createHash, randomUUID } from 'crypto';
import { z } from 'zod';
import { CommitStatusReporter } from '../commitStatus';
import { LeaseLostError } from '../database/leases';
import {
  LeasedDelivery,
  Push,
  PushDeliveryStore,
} from '../database/PushDeliveryStore';
import { ReceiverStore } from '../database/ReceiverStore';
import { ReceiverTrigger, TriggerOutcome } from './ReceiverTrigger';

/** The topics the events backend's GitLab and GitHub modules publish pushes on. */
export const PUSH_TOPICS = ['gitlab.push', 'github.push'];

/** How long an accepted delivery's id is kept to recognise a redelivery. */
const DELIVERY_IDS_KEPT_MS = 24 * 60 * 60 * 1000;

/** How pushes are relayed on each instance. */
export interface RelaySettings {
  /** Relays running at once. Default 8. */
  maxConcurrent: number;
  /** Accepted deliveries waiting for a relay. Default 100; beyond, left for adoption. */
  maxQueued: number;
  /**
   * A push of the same repository, ref and commit delivered again within this, with a
   * new delivery id, is not relayed again. Default 10 minutes.
   */
  replayWindowMs: number;
}

const RELAY = 'gitops.receivers.relay';
const DEFAULT_RELAY_SETTINGS: RelaySettings = {
  maxConcurrent: 8,
  maxQueued: 100,
  replayWindowMs: 10 * 60 * 1000,
};

export function readRelaySettings(config: Config): RelaySettings {
  const positive = (key: string, fallback: number) => {
    const value = config.getOptionalNumber(`${RELAY}.${key}`) ?? fallback;
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`${RELAY}.${key} must be a whole number, not ${value}`);
    }
    return value;
  };
  return {
    maxConcurrent: Math.max(
      1,
      positive('maxConcurrent', DEFAULT_RELAY_SETTINGS.maxConcurrent),
    ),
    maxQueued: positive('maxQueued', DEFAULT_RELAY_SETTINGS.maxQueued),
    replayWindowMs: config.has(`${RELAY}.replayWindow`)
      ? durationToMilliseconds(
          readDurationFromConfig(config, { key: `${RELAY}.replayWindow` }),
        )
      : DEFAULT_RELAY_SETTINGS.replayWindowMs,
  };
}

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

/** The normalized repositories a push names (web URLs that do not parse left out). */
function repositoriesOf(push: Push): string[] {
  const repositories = new Set<string>();
  for (const url of push.urls) {
    try {
      repositories.add(parseRepositoryUrl(url).normalized);
    } catch {
      // web_url / html_url may not parse as a Git URL: the clone URLs suffice.
    }
  }
  return [...repositories].sort();
}

/**
 * What makes two deliveries the same push whatever their ids: the repository, the ref
 * and the commit. None for a deleted ref (no commit) or an unknown repository.
 */
export function replayKey(push: Push): string | undefined {
  const repositories = repositoriesOf(push);
  if (!push.sha || !push.ref || repositories.length === 0) return undefined;
  return createHash('sha256')
    .update(JSON.stringify([repositories, push.ref, push.sha]))
    .digest('hex');
}

/**
 * Turns Git host push events (already authenticated by the events backend's GitLab
 * token / GitHub signature check) into calls of the managed Receivers of the pushed
 * repository's GitRepositories, found through the store's repository index.
 *
 * A delivery is first recorded in the database, leased to this instance: one seen
 * before (by its `X-Gitlab-Event-UUID` / `X-GitHub-Delivery`, on any replica) is
 * ignored, as Git hosts redeliver, and so is the same push (repository, ref, commit)
 * replayed with a fresh id within `replayWindowMs`; one whose instance died before
 * relaying it is relayed by another (`adoptAbandoned`).
 *
 * Relays run at most `maxConcurrent` at once, `maxQueued` more waiting. When both are
 * full a delivery is not relayed here: it is recorded already, so its lease is let go
 * and the next adoption sweep (every 30 s, on any replica) relays it. The Git host is
 * answered 202 either way (a 503 would make GitLab disable a hook that keeps failing).
 *
 * A relay renews its delivery's lease while it runs, so a slow one is not adopted and
 * relayed twice. Its writes are fenced by the lease's generation: a relay that lost its
 * lease (this instance stalled past it) calls no receiver it has not called yet and does
 * not mark the delivery done. Waiting deliveries are not renewed: one that waited past
 * its lease is another replica's to relay, and is skipped here.
 */
export class PushRelay {
  private readonly instanceId: string;
  private readonly leaseMs: number;
  private readonly settings: RelaySettings;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

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
      settings?: Partial<RelaySettings>;
    },
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 60_000;
    this.settings = { ...DEFAULT_RELAY_SETTINGS, ...options.settings };
  }

  /** Accepts and relays a push event, answering with each receiver's outcome. */
  async handle(event: PushEvent): Promise<Outcome[]> {
    const delivery = await this.accept(event);
    return delivery ? this.relay(delivery) : [];
  }

  /** Relays running and waiting on this instance. */
  get load(): { active: number; queued: number } {
    return { active: this.active, queued: this.waiting.length };
  }

  /**
   * Records the delivery (the Git host may be answered once this resolved); undefined
   * when it is a redelivery, a replay, or names no repository.
   */
  async accept(event: PushEvent): Promise<LeasedDelivery | undefined> {
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
    const key = replayKey(push);
    const acceptance = await this.options.deliveries.accept(
      delivery,
      this.lease(),
      key ? { key, windowMs: this.settings.replayWindowMs } : undefined,
    );
    if (!acceptance.accepted) {
      logger.info(
        acceptance.reason === 'replay'
          ? `Ignoring push delivery ${id}: the same push (${push.ref} at ${push.sha}) was delivered lately`
          : `Ignoring push delivery ${id}: already handled`,
      );
      return undefined;
    }
    return { delivery, fence: acceptance.fence };
  }

  /**
   * Calls the receivers of an accepted delivery, then marks it done; when this
   * instance's relays are all busy and its queue full, leaves it for adoption instead
   * (answering no outcome).
   */
  async relay(leased: LeasedDelivery): Promise<Outcome[]> {
    if (this.active < this.settings.maxConcurrent) {
      this.active++;
    } else if (this.waiting.length < this.settings.maxQueued) {
      // The slot is handed over by the relay that ends (`active` unchanged).
      await new Promise<void>(resolve => this.waiting.push(resolve));
    } else {
      await this.leave(leased);
      return [];
    }
    try {
      return await this.relayHeld(leased);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /**
   * Relays the deliveries whose instance died before it could (as many as this
   * instance has room for); forgets old ones.
   */
  async adoptAbandoned(): Promise<void> {
    const { deliveries, logger } = this.options;
    const room =
      this.settings.maxConcurrent +
      this.settings.maxQueued -
      this.active -
      this.waiting.length;
    const adopted =
      room > 0 ? await deliveries.claimAbandoned(this.lease(), room) : [];
    await Promise.all(
      adopted.map(leased => {
        logger.info(
          `Relaying push delivery ${leased.delivery.id}, left by an instance that stopped or was busy`,
        );
        return this.relay(leased).catch(error =>
          logger.warn(
            `Relaying push delivery ${leased.delivery.id} failed: ${error}`,
          ),
        );
      }),
    );
    await deliveries.prune(
      new Date(
        Date.now() -
          Math.max(DELIVERY_IDS_KEPT_MS, this.settings.replayWindowMs),
      ),
    );
  }

  private lease() {
    return {
      owner: this.instanceId,
      until: new Date(Date.now() + this.leaseMs),
    };
  }

  /** Full: the delivery is recorded, so its lease is let go for any replica to adopt. */
  private async leave({ delivery, fence }: LeasedDelivery) {
    this.options.logger.warn(
      `Push relays full (${this.settings.maxConcurrent} running, ${this.settings.maxQueued} waiting): delivery ${delivery.id} is left for the next adoption sweep`,
    );
    await this.options.deliveries
      .release({ id: delivery.id, fence }, this.instanceId)
      .catch(() => {
        // Its lease then runs out on its own.
      });
  }

  private async relayHeld({
    delivery,
    fence,
  }: LeasedDelivery): Promise<Outcome[]> {
    const { deliveries, logger } = this.options;
    const held = { id: delivery.id, fence };
    const lost = new AbortController();
    const renewal = setInterval(() => {
      deliveries.renew(held, this.lease()).then(
        kept => {
          if (!kept) {
            lost.abort(
              new LeaseLostError(
                `Push delivery ${delivery.id} was adopted by another instance`,
              ),
            );
          }
        },
        () => {
          // The database is away: the next renewal tries again.
        },
      );
    }, this.leaseMs / 3);
    try {
      const receivers = await this.receiversOf(delivery.push);
      // Still ours (it may have waited, or this instance stalled), and for a whole
      // lease from now, before the first receiver is called.
      if (!(await deliveries.renew(held, this.lease()))) {
        throw new LeaseLostError(
          `Push delivery ${delivery.id} was taken over by another instance before it was relayed here`,
        );
      }
      const outcomes = await this.callReceivers(
        receivers,
        delivery.push,
        lost.signal,
      );
      lost.signal.throwIfAborted();
      await deliveries.finish(held);
      return outcomes;
    } catch (error) {
      if (error instanceof LeaseLostError) {
        logger.warn(`Stopped relaying here: ${error.message}`);
        return [];
      }
      throw error;
    } finally {
      clearInterval(renewal);
    }
  }

  /** The managed receivers of the pushed repository's GitRepositories. */
  private async receiversOf(push: Push): Promise<ManagedReceiver[]> {
    const receivers = (
      await Promise.all(
        repositoriesOf(push).map(repository =>
          this.options.store.list({ repository }),
        ),
      )
    )
      .flat()
      .filter(receiver => receiver.source.kind === 'GitRepository');
    if (receivers.length === 0) {
      this.options.logger.debug(
        `No managed receiver for the push to ${push.urls.join(', ')}`,
      );
    }
    return receivers;
  }

  private async callReceivers(
    receivers: ManagedReceiver[],
    push: Push,
    signal: AbortSignal,
  ): Promise<Outcome[]> {
    return Promise.all(
      receivers.map(async receiver => {
        // No receiver called once the delivery is another instance's.
        signal.throwIfAborted();
        const outcome = await this.options.trigger.trigger(receiver);
        if (!signal.aborted) this.report(receiver, push);
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
