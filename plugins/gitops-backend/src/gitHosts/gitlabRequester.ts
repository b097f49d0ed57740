import {
  createRequesterFn,
  getMatchingRateLimiter,
  GitbeakerRequestError,
  GitbeakerTimeoutError,
  RequestHandlerFn,
  ResponseBodyTypes,
} from '@gitbeaker/requester-utils';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredBackoff } from '../service/backoff';
import { guardedFetch, OutsideApiBaseError } from './guardedFetch';

/** Answers a request that was not processed, or failed, may get again later. */
const ALWAYS_RETRIED = new Set([429, 503]);
/** Failures after which only a request that can be repeated safely is sent again. */
const RETRIED_WHEN_IDEMPOTENT = new Set([500, 502, 504]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export interface RetrySettings {
  /** The fetch under the guard (tests). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Attempts after the first. Default 3. */
  retries?: number;
  /** The first retry's delay without `Retry-After`, doubled each time. Default 500 ms. */
  baseDelayMs?: number;
  /**
   * No wait is longer, whatever `Retry-After` asks. Default 5 s. (The client's query
   * timeout bounds the whole call, retries included.)
   */
  maxDelayMs?: number;
}

function isAbort(error: unknown): boolean {
  const name = (error as Error)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function timedOut() {
  return new GitbeakerTimeoutError('Query timeout was reached');
}

/** Waits, unless the call's timeout ends first. */
async function pause(ms: number, signal: AbortSignal | undefined) {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw isAbort(error) ? timedOut() : error;
  }
}

/** How long to wait before the next attempt: `Retry-After` when the host sent one. */
function delayBefore(
  attempt: number,
  response: Response | undefined,
  settings: Required<Omit<RetrySettings, 'fetch'>>,
): number {
  const retryAfter = response?.headers.get('retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds)
      ? seconds * 1000
      : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) {
      return Math.min(Math.max(ms, 0), settings.maxDelayMs);
    }
  }
  return jitteredBackoff(attempt, {
    initialMs: settings.baseDelayMs,
    maxMs: settings.maxDelayMs,
  });
}

// Body handling and errors as @gitbeaker/rest's own requester, which callers expect.
async function bodyOf(response: Response, asStream: boolean) {
  if (asStream) return response.body;
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) {
    return response.json().then(value => value || {});
  }
  if (type.startsWith('text/')) return response.text().then(text => text || '');
  return response.blob();
}

async function failure(request: Request, response: Response): Promise<never> {
  const content = await response.text();
  let description = content;
  if (response.headers.get('content-type')?.includes('application/json')) {
    try {
      const output = JSON.parse(content);
      const property = output?.error || output?.message || '';
      description =
        typeof property === 'string' ? property : JSON.stringify(property);
    } catch {
      // Not JSON after all: the text is the description.
    }
  }
  throw new GitbeakerRequestError(description, {
    cause: { description, request, response },
  });
}

/**
 * A gitbeaker request handler that retries what a Git host did not serve: 429 and 503
 * for every request, 500/502/504 and network errors for requests that can be repeated
 * (a POST may have been processed), honouring `Retry-After`, with a bounded, jittered
 * exponential backoff. (gitbeaker's own retries 429 and 502 after a few milliseconds,
 * ignoring `Retry-After`, and not 503.)
 */
export function retryingRequestHandler(
  options: RetrySettings = {},
): RequestHandlerFn {
  const settings = {
    retries: options.retries ?? 3,
    baseDelayMs: options.baseDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 5_000,
  };
  return async (endpoint, requestOptions) => {
    const {
      rateLimiters,
      agent,
      asStream,
      prefixUrl,
      searchParams,
      method,
      ...init
    } = (requestOptions ?? {}) as Record<string, any>;
    const base =
      prefixUrl && !String(prefixUrl).endsWith('/')
        ? `${prefixUrl}/`
        : prefixUrl;
    const url = new URL(endpoint, base);
    url.search = searchParams || '';
    // The token goes only to the configured GitLab: no URL outside its API base (an
    // endpoint built from a cluster's data), no redirect that leaves it.
    const send = guardedFetch(String(base), options.fetch);
    const rateLimit = getMatchingRateLimiter(endpoint, rateLimiters, method);
    const repeatable = IDEMPOTENT.has(String(method).toUpperCase());
    for (let attempt = 0; ; attempt++) {
      const request = new Request(url, { ...init, method });
      await rateLimit();
      let response: Response;
      try {
        response = await send(
          request,
          agent ? ({ dispatcher: agent } as RequestInit) : undefined,
        );
      } catch (error) {
        if (isAbort(error)) throw timedOut();
        // Refused before sending (or a redirect refused): asking again changes nothing.
        if (error instanceof OutsideApiBaseError) throw error;
        if (!repeatable || attempt >= settings.retries) throw error;
        await pause(delayBefore(attempt, undefined, settings), init.signal);
        continue;
      }
      if (response.ok) {
        return {
          body: (await bodyOf(response, !!asStream)) as ResponseBodyTypes,
          headers: Object.fromEntries(response.headers.entries()),
          status: response.status,
        };
      }
      const retried =
        ALWAYS_RETRIED.has(response.status) ||
        (repeatable && RETRIED_WHEN_IDEMPOTENT.has(response.status));
      if (!retried || attempt >= settings.retries) {
        await failure(request, response);
      }
      await response.body?.cancel();
      await pause(delayBefore(attempt, response, settings), init.signal);
    }
  };
}

/** The `requesterFn` for `new Gitlab(...)`: gitbeaker's options, {@link retryingRequestHandler}. */
export function retryingRequester(options?: RetrySettings) {
  return createRequesterFn(
    (_, requestOptions) => Promise.resolve(requestOptions),
    retryingRequestHandler(options),
  );
}
