import { GitHostKind } from '../gitHosts';

/** A push webhook the backend registered on a Git host. */
export interface RegisteredWebhook {
  /** Normalized repository URL (`git:<host>/<path>`). */
  repository: string;
  hostKind: GitHostKind;
  hookId: string;
  url: string;
  /** HMAC-SHA256 of the secret it was given: tells when the secret changed. */
  secretDigest: string;
  createdAt: string;
  updatedAt: string;
  /** When the hook was last seen on the Git host. */
  verifiedAt: string;
}

/** Persistence of the registered webhooks. */
export interface WebhookStore {
  list(): Promise<RegisteredWebhook[]>;
  /** Records a hook as seen on the Git host now. */
  upsert(
    webhook: Pick<
      RegisteredWebhook,
      'repository' | 'hostKind' | 'hookId' | 'url' | 'secretDigest'
    >,
  ): Promise<void>;
  delete(repository: string): Promise<void>;
}
