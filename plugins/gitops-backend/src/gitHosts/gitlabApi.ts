import { stringifyError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import { Gitlab } from '@gitbeaker/rest';

const REQUEST_TIMEOUT_MS = 10_000;

export type GitLabApi = InstanceType<typeof Gitlab>;

/** A gitbeaker client for a host of `integrations.gitlab`, or undefined when none is configured. */
export function gitlabApiFor(
  integrations: ScmIntegrations,
  host: string,
): GitLabApi | undefined {
  const config = integrations.gitlab.byHost(host)?.config;
  if (!config) return undefined;
  return new Gitlab({
    // gitbeaker appends `/api/v4` itself.
    host: config.apiBaseUrl.replace(/\/api\/v4\/?$/, ''),
    token: config.token ?? '',
    queryTimeout: REQUEST_TIMEOUT_MS,
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
