import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { guardedFetchAnswering, REFUSED_STATUS } from './guardedFetch';

/** No wait is longer, whatever `Retry-After` asks: the caller's work retries later. */
const MAX_RATE_LIMIT_WAIT_S = 5;

const RetryingOctokit = Octokit.plugin(retry, throttling);

/**
 * An Octokit that retries what GitHub did not serve: 5xx answers (3 retries, after
 * 0.5, 2 and 4.5 s) through `@octokit/plugin-retry`, and rate limits (429, or a 403 with
 * `Retry-After`) through `@octokit/plugin-throttling`, waiting what GitHub asks when it is
 * at most 5 s, twice at most.
 */
export function githubClient(options: {
  token?: string;
  /** Default: https://api.github.com */
  baseUrl?: string;
  /** The fetch under the guard (tests). Default: the global fetch. */
  fetch?: typeof fetch;
}): InstanceType<typeof Octokit> {
  const onLimit = (
    retryAfter: number,
    _options: object,
    _octokit: unknown,
    retryCount: number,
  ) => retryCount < 2 && retryAfter <= MAX_RATE_LIMIT_WAIT_S;
  return new RetryingOctokit({
    auth: options.token,
    baseUrl: options.baseUrl,
    // The token goes only to the configured API: no redirect elsewhere is followed.
    request: {
      fetch: guardedFetchAnswering(
        options.baseUrl ?? 'https://api.github.com',
        options.fetch,
      ),
    },
    // The throttling plugin answers rate limits; these are the other failures.
    retry: {
      doNotRetry: [400, 401, 403, 404, 410, REFUSED_STATUS, 422, 429, 451],
      retryAfterBaseValue: 500,
    },
    throttle: { onRateLimit: onLimit, onSecondaryRateLimit: onLimit },
  });
}
