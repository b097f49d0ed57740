import { stringifyError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import { Gitlab } from '@gitbeaker/rest';
import { retryingRequester } from './gitlabRequester';

const REQUEST_TIMEOUT_MS = 10_000;

export type GitLabApi = InstanceType<typeof Gitlab>;

/** A gitbeaker client for a host of `integrations.gitlab`, or undefined when none is configured. */
export function gitlabApiFor(
  integrations: ScmIntegrations,
  host: string,
): GitLabApi | undefined {
  const config = integrations.gitlab.byHost(host)?.config;
  if (!config) return undefined;
  return gitlabClient(config.apiBaseUrl, config.token ?? '');
}

/** A gitbeaker client for a GitLab API base URL and token, retrying what was not served. */
export function gitlabClient(apiBaseUrl: string, token: string): GitLabApi {
  return new Gitlab({
    // gitbeaker appends `/api/v4` itself.
    host: apiBaseUrl.replace(/\/api\/v4\/?$/, ''),
    token,
    queryTimeout: REQUEST_TIMEOUT_MS,
    requesterFn: retryingRequester(),
  });
}

/**
 * The message of a Git host client error with its HTTP status. Octokit and gitbeaker
 * keep the request (with its token header) on the error: only the message is used.
 */
export function describeGitHostError(error: unknown): string {
  const status =
    (error as { cause?: { response?: { status?: number } } })?.cause?.response
      ?.status ?? (error as { status?: number })?.status;
  const message =
    error instanceof Error ? error.message : stringifyError(error);
  return status && !message.startsWith(String(status))
    ? `${status} ${message}`
    : message;
}
