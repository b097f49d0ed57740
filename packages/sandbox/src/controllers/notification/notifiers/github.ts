import type { FluxEvent } from '../fluxEvent';
import {
  commitStatusDescription,
  eventRevision,
  parseGitAddress,
  parseRevision,
} from './commitStatus';
import {
  isRetryableStatus,
  isSuccess,
  NotifierError,
  sendRequest,
  type HttpResult,
} from './http';
import type { Notifier } from './types';

interface GitHubStatus {
  context?: string;
  state?: string;
  description?: string;
}

/** go-github's ErrorResponse text: `METHOD url: status message []`. */
function githubError(
  method: string,
  url: string,
  result: HttpResult,
): NotifierError {
  const message =
    (result.json as { message?: string } | undefined)?.message ??
    result.text.trim();
  return new NotifierError(
    `${method} ${url}: ${result.status} ${message} []`,
    isRetryableStatus(result.status),
  );
}

/** The REST base go-github uses: api.github.com, or `<host>/api/v3` for GitHub Enterprise. */
function apiBase(host: string): string {
  return new URL(host).host === 'github.com'
    ? 'https://api.github.com'
    : `${host}/api/v3`;
}

/**
 * Provider type `github`: creates a commit status (`context` = the status name) unless the
 * latest one with that context already has the same state and description.
 */
export function createGitHubNotifier(options: {
  address: string;
  token: string;
  commitStatus: string;
}): Notifier {
  if (options.token === '') {
    throw new Error('github token or github app details must be specified');
  }
  const { host, id } = parseGitAddress(options.address);
  const parts = id.split('/');
  if (parts.length !== 2) {
    throw new Error(`invalid repository id ${JSON.stringify(id)}`);
  }
  const repoUrl = `${apiBase(host)}/repos/${parts[0]}/${parts[1]}`;
  const headers = {
    Authorization: `Bearer ${options.token}`,
    Accept: 'application/vnd.github.v3+json',
    'User-Agent': 'go-github',
  };

  return {
    async post(event: FluxEvent, context) {
      if (event.reason === 'Progressing') {
        return {
          outcome: 'skipped',
          detail: 'progressing events are not reported',
        };
      }
      const revision = eventRevision(event.metadata);
      if (revision === undefined) {
        throw new NotifierError('missing revision metadata', false);
      }
      let sha: string;
      try {
        sha = parseRevision(revision);
      } catch (error) {
        throw new NotifierError((error as Error).message, false);
      }
      const status = {
        sha,
        name: options.commitStatus,
        state: event.severity === 'info' ? 'success' : 'failure',
        description: commitStatusDescription(event),
      };

      const listUrl = `${repoUrl}/commits/${sha}/statuses?per_page=50`;
      const existing = await sendRequest(context, 'GET', listUrl, headers);
      if (!isSuccess(existing)) {
        const error = githubError('GET', listUrl, existing);
        throw new NotifierError(
          `could not list commit statuses: ${error.message}`,
          error.retryable,
        );
      }
      // Statuses come newest first: only the latest one of this context counts.
      const latest = ((existing.json as GitHubStatus[] | undefined) ?? []).find(
        s =>
          s.context === status.name &&
          s.state !== undefined &&
          s.description !== undefined,
      );
      if (
        latest &&
        latest.state === status.state &&
        latest.description === status.description
      ) {
        return {
          outcome: 'skipped',
          detail: 'identical commit status exists',
          commitStatus: status,
        };
      }

      const postUrl = `${repoUrl}/statuses/${sha}`;
      const created = await sendRequest(
        context,
        'POST',
        postUrl,
        { ...headers, 'Content-Type': 'application/json' },
        JSON.stringify({
          state: status.state,
          context: status.name,
          description: status.description,
        }),
      );
      if (!isSuccess(created)) {
        const error = githubError('POST', postUrl, created);
        throw new NotifierError(
          `could not create commit status: ${error.message}`,
          error.retryable,
        );
      }
      return {
        outcome: 'delivered',
        detail: `commit status set on ${id}@${sha}`,
        commitStatus: status,
      };
    },
  };
}
