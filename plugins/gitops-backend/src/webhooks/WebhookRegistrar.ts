import { DiscoveryService, LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import {
  parseRepositoryUrl,
  ParsedRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { createHmac } from 'node:crypto';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { RegisteredWebhook, WebhookStore } from '../database/WebhookStore';
import {
  describeGitHostError,
  GitHostClient,
  GitHostKind,
  GitHosts,
} from '../gitHosts';

const VERIFY_EVERY_MS = 60 * 60 * 1000;

export interface WebhookSettings {
  /** `gitops.webhooks.register` (default true); off removes the hooks it made. */
  register: boolean;
  /**
   * `gitops.webhooks.baseUrl`: the backend's URL as the Git hosts reach it, when that
   * is not the external URL discovery gives (e.g. a public ingress). No trailing slash.
   */
  baseUrl?: string;
  /**
   * The secret each events module checks (`events.modules.<kind>.webhookSecret`):
   * hooks get exactly that one, as the module accepts no other.
   */
  secrets: Partial<Record<GitHostKind, string>>;
}

/** Reads `gitops.webhooks` and the events modules' secrets; a bad base URL stops the start. */
export function readWebhookSettings(config: Config): WebhookSettings {
  const baseUrl = config.getOptionalString('gitops.webhooks.baseUrl');
  if (baseUrl !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(baseUrl);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
      throw new InputError(
        `gitops.webhooks.baseUrl must be an http(s) URL, got "${baseUrl}"`,
      );
    }
  }
  const secrets: WebhookSettings['secrets'] = {};
  for (const kind of ['gitlab', 'github'] as const) {
    const secret = config.getOptionalString(
      `events.modules.${kind}.webhookSecret`,
    );
    if (secret) secrets[kind] = secret;
  }
  return {
    register: config.getOptionalBoolean('gitops.webhooks.register') ?? true,
    ...(baseUrl ? { baseUrl: baseUrl.replace(/\/+$/, '') } : {}),
    secrets,
  };
}

/** The events backend's external URL: from `gitops.webhooks.baseUrl`, else discovery. */
export async function eventsBaseUrl(
  settings: WebhookSettings,
  discovery: Pick<DiscoveryService, 'getExternalBaseUrl'>,
): Promise<string> {
  return settings.baseUrl
    ? `${settings.baseUrl}/api/events`
    : (await discovery.getExternalBaseUrl('events')).replace(/\/+$/, '');
}

/** A keyed digest: tells a changed secret apart without keeping it. */
function digestOf(secret: string): string {
  return createHmac('sha256', secret)
    .update('gitops.backstage.io/webhook')
    .digest('hex');
}

/**
 * Keeps one push webhook on the Git host (GitLab project hook, GitHub repository
 * webhook) for every registered Git delivery repository, posting to the events
 * backend's GitLab/GitHub ingress with the secret that module checks. Hooks of
 * repositories no longer registered, or all of them when switched off, are removed.
 * Hosts without a configured secret get no hooks: the ingress would not exist.
 */
export class WebhookRegistrar {
  private readonly warnedKinds = new Set<GitHostKind>();

  constructor(
    private readonly options: {
      deliveries: Pick<DeliveryRepositoryStore, 'list'>;
      store: WebhookStore;
      hosts: Pick<GitHosts, 'for'>;
      settings: WebhookSettings;
      discovery: Pick<DiscoveryService, 'getExternalBaseUrl'>;
      logger: LoggerService;
      /** How long a recorded hook is trusted before it is looked up again. Default 1 h. */
      verifyEveryMs?: number;
    },
  ) {}

  async run(): Promise<void> {
    const { store, logger } = this.options;
    const registered = new Map(
      (await store.list()).map(webhook => [webhook.repository, webhook]),
    );
    const wanted = await this.wanted();
    const ingress = await eventsBaseUrl(
      this.options.settings,
      this.options.discovery,
    );
    for (const [normalized, { repository, client }] of wanted) {
      try {
        await this.ensure(
          repository,
          client,
          `${ingress}/http/${client.kind}`,
          registered.get(normalized),
        );
      } catch (error) {
        logger.warn(
          `Could not register the push webhook of ${repository.host}/${
            repository.path
          }: ${describeGitHostError(error)}`,
        );
      }
    }
    for (const webhook of registered.values()) {
      if (wanted.has(webhook.repository)) continue;
      try {
        await this.remove(webhook);
      } catch (error) {
        logger.warn(
          `Could not remove the push webhook of ${
            webhook.repository
          }: ${describeGitHostError(error)}`,
        );
      }
    }
  }

  private async wanted() {
    const { settings, hosts, deliveries, logger } = this.options;
    const wanted = new Map<
      string,
      { repository: ParsedRepositoryUrl; client: GitHostClient }
    >();
    if (!settings.register) return wanted;
    for (const delivery of await deliveries.list()) {
      let repository: ParsedRepositoryUrl;
      try {
        repository = parseRepositoryUrl(delivery.url);
      } catch {
        continue; // Registration validates URLs; an old row is not worth a failure.
      }
      const client = hosts.for(repository);
      if (!client || wanted.has(repository.normalized)) continue;
      if (!settings.secrets[client.kind]) {
        if (!this.warnedKinds.has(client.kind)) {
          this.warnedKinds.add(client.kind);
          logger.warn(
            `No push webhooks are registered on ${client.kind}: set events.modules.${client.kind}.webhookSecret`,
          );
        }
        continue;
      }
      wanted.set(repository.normalized, { repository, client });
    }
    return wanted;
  }

  private async ensure(
    repository: ParsedRepositoryUrl,
    client: GitHostClient,
    url: string,
    known: RegisteredWebhook | undefined,
  ) {
    const { settings, store, logger } = this.options;
    const secret = settings.secrets[client.kind]!;
    const secretDigest = digestOf(secret);
    const unchanged =
      known?.url === url &&
      known.hostKind === client.kind &&
      known.secretDigest === secretDigest;
    const verifyEveryMs = this.options.verifyEveryMs ?? VERIFY_EVERY_MS;
    if (
      unchanged &&
      Date.now() - Date.parse(known.verifiedAt) < verifyEveryMs
    ) {
      return;
    }
    if (known && known.url !== url) {
      // The backend moved: the hook to the old address would only fail.
      await client.removeWebhook(repository, known.hookId);
    }
    const { id, created } = await client.ensurePushWebhook(
      repository,
      { url, secret },
      { setSecret: !unchanged },
    );
    await store.upsert({
      repository: repository.normalized,
      hostKind: client.kind,
      hookId: id,
      url,
      secretDigest,
    });
    if (created || !unchanged) {
      logger.info(
        `${created ? 'Registered' : 'Updated'} the push webhook of ${
          repository.host
        }/${repository.path} (hook ${id}) to ${url}`,
      );
    }
  }

  private async remove(webhook: RegisteredWebhook) {
    const repository = parseRepositoryUrl(
      webhook.repository.replace(/^git:/, 'https://'),
    );
    const client = this.options.hosts.for(repository);
    if (client) await client.removeWebhook(repository, webhook.hookId);
    await this.options.store.delete(webhook.repository);
    this.options.logger.info(
      `Removed the push webhook of ${repository.host}/${repository.path} (hook ${webhook.hookId})`,
    );
  }
}
