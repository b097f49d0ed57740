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

interface GitLabCommitStatus {
  sha?: string;
  name?: string;
  status?: string;
  description?: string;
}

/** go-gitlab's PathEscape: url.PathEscape plus dots, so `group/app` is one path segment. */
function pathEscape(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

/** go-gitlab's ErrorResponse text: `METHOD url: status {message: ...}`. */
function gitlabError(
  method: string,
  url: string,
  result: HttpResult,
): NotifierError {
  const body = result.json as
    | { message?: unknown; error?: unknown }
    | undefined;
  let detail = result.text.trim();
  if (body?.message !== undefined) {
    detail = `{message: ${
      typeof body.message === 'string'
        ? body.message
        : JSON.stringify(body.message)
    }}`;
  } else if (body?.error !== undefined) {
    detail = `{error: ${String(body.error)}}`;
  }
  const { origin, pathname } = new URL(url);
  return new NotifierError(
    `${method} ${origin}${decodeURIComponent(pathname)}: ${result.status}${
      detail ? ` ${detail}` : ''
    }`,
    isRetryableStatus(result.status),
  );
}

/**
 * Provider type `gitlab`: sets a commit status on the project named by the address, unless
 * an identical one (name, state, description) is already there.
 */
export function createGitLabNotifier(options: {
  address: string;
  token: string;
  commitStatus: string;
}): Notifier {
  if (options.token === '') {
    throw new Error('gitlab token cannot be empty');
  }
  const { host, id } = parseGitAddress(options.address);
  const projectUrl = `${host}/api/v4/projects/${pathEscape(id)}`;
  const headers = {
    'PRIVATE-TOKEN': options.token,
    Accept: 'application/json',
    'User-Agent': 'go-gitlab',
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
      if (event.severity !== 'info' && event.severity !== 'error') {
        throw new NotifierError("can't convert to gitlab state", false);
      }
      const status = {
        sha,
        name: options.commitStatus,
        state: event.severity === 'info' ? 'success' : 'failed',
        description: commitStatusDescription(event),
      };

      const listUrl = `${projectUrl}/repository/commits/${pathEscape(
        sha,
      )}/statuses?name=${encodeURIComponent(status.name)}`;
      const existing = await sendRequest(context, 'GET', listUrl, headers);
      if (!isSuccess(existing)) {
        const error = gitlabError('GET', listUrl, existing);
        throw new NotifierError(
          `unable to list commit status: ${error.message}`,
          error.retryable,
        );
      }
      const duplicate = (
        (existing.json as GitLabCommitStatus[] | undefined) ?? []
      ).some(
        s =>
          s.sha === sha &&
          s.status === status.state &&
          s.description === status.description &&
          s.name === status.name,
      );
      if (duplicate) {
        return {
          outcome: 'skipped',
          detail: 'identical commit status exists',
          commitStatus: status,
        };
      }

      const postUrl = `${projectUrl}/statuses/${pathEscape(sha)}`;
      const created = await sendRequest(
        context,
        'POST',
        postUrl,
        { ...headers, 'Content-Type': 'application/json' },
        JSON.stringify({
          state: status.state,
          name: status.name,
          description: status.description,
        }),
      );
      if (!isSuccess(created)) {
        throw gitlabError('POST', postUrl, created);
      }
      return {
        outcome: 'delivered',
        detail: `commit status set on ${id}@${sha}`,
        commitStatus: status,
      };
    },
  };
}
