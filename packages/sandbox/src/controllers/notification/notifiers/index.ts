import { createForwarder } from './generic';
import { createGitHubNotifier } from './github';
import { createGitLabNotifier } from './gitlab';
import type { Notifier } from './types';

export { NotifierError, type FetchLike, type RequestContext } from './http';
export type { Notifier, NotifyResult, PostedCommitStatus } from './types';

/** Provider types that set Git commit statuses (isCommitStatusProvider). */
const COMMIT_STATUS_PROVIDER_TYPES = new Set([
  'github',
  'gitlab',
  'gitea',
  'bitbucketserver',
  'bitbucket',
  'azuredevops',
]);

export function isCommitStatusProvider(type: string): boolean {
  return COMMIT_STATUS_PROVIDER_TYPES.has(type);
}

export interface NotifierConfig {
  type: string;
  address: string;
  token: string;
  /** Extra request headers (the Secret's `headers` key), for the forwarders. */
  headers: Record<string, string>;
  /** The commit status name, for commit status providers. */
  commitStatus: string;
}

/** The notifier factory, for the Provider types the sandbox implements. */
export function createNotifier(config: NotifierConfig): Notifier {
  switch (config.type) {
    case 'gitlab':
      return createGitLabNotifier(config);
    case 'github':
      return createGitHubNotifier(config);
    case 'generic':
      return createForwarder({
        address: config.address,
        headers: config.headers,
      });
    case 'generic-hmac':
      return createForwarder({
        address: config.address,
        headers: config.headers,
        hmacKey: config.token,
      });
    default:
      throw new Error(
        `provider type '${config.type}' is not supported by the sandbox`,
      );
  }
}
