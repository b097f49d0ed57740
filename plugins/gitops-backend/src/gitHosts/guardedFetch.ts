/** Redirect statuses: the next URL is in `Location`. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** A request the backend refused to send: it would have left the configured API base. */
export class OutsideApiBaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutsideApiBaseError';
  }
}

/**
 * Whether `url` is at or below the configured API base: same origin (scheme, host and
 * port), no userinfo, and its path under the base's path.
 */
export function isWithinApiBase(url: URL, apiBase: URL): boolean {
  const prefix = apiBase.pathname.replace(/\/+$/, '');
  return (
    url.origin === apiBase.origin &&
    !url.username &&
    !url.password &&
    (prefix === '' ||
      url.pathname === prefix ||
      url.pathname.startsWith(`${prefix}/`))
  );
}

/** HTTP 421 Misdirected Request: how a refusal is answered to clients that retry errors. */
export const REFUSED_STATUS = 421;

/**
 * {@link guardedFetch} answering a refusal as a 421 response with the reason as
 * `message`, instead of throwing: Octokit turns a thrown error into a 500, which its retry
 * plugin sends again; a 421 is in its `doNotRetry` list.
 */
export function guardedFetchAnswering(
  apiBaseUrl: string,
  inner?: typeof fetch,
): typeof fetch {
  const send = guardedFetch(apiBaseUrl, inner);
  return async (input, init) => {
    try {
      return await send(input, init);
    } catch (error) {
      if (!(error instanceof OutsideApiBaseError)) throw error;
      return new Response(JSON.stringify({ message: error.message }), {
        status: REFUSED_STATUS,
        headers: { 'content-type': 'application/json' },
      });
    }
  };
}

/**
 * A `fetch` for one Git host integration, whose requests carry its token
 * (`PRIVATE-TOKEN`, `Authorization`): a request outside the configured API base is not
 * sent, and redirects are followed by hand only while they stay within it (fetch keeps
 * custom headers such as `PRIVATE-TOKEN` on a cross-origin redirect). Only GET and HEAD
 * are followed; another method's redirect is answered as an error. The URL is never in
 * the error message (it may come from a cluster).
 */
export function guardedFetch(
  apiBaseUrl: string,
  inner: typeof fetch = globalThis.fetch,
): typeof fetch {
  const apiBase = new URL(apiBaseUrl);
  return async (input, init) => {
    let request = new Request(input, { ...init, redirect: 'manual' });
    // undici's `dispatcher` (an agent) is not part of a Request: pass it on alone.
    const dispatcher = (init as { dispatcher?: unknown } | undefined)
      ?.dispatcher;
    for (let hops = 0; ; hops++) {
      if (!isWithinApiBase(new URL(request.url), apiBase)) {
        throw new OutsideApiBaseError(
          `refused to send a request outside the configured API base ${apiBase.origin}`,
        );
      }
      const response = await inner(
        request,
        dispatcher ? ({ dispatcher } as RequestInit) : undefined,
      );
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || !location) return response;
      await response.body?.cancel();
      const method = request.method.toUpperCase();
      if (method !== 'GET' && method !== 'HEAD') {
        throw new OutsideApiBaseError(
          `the Git host answered a ${method} with a redirect (${response.status}), which is not followed`,
        );
      }
      if (hops >= MAX_REDIRECTS) {
        throw new OutsideApiBaseError('too many redirects from the Git host');
      }
      let next: URL;
      try {
        next = new URL(location, request.url);
      } catch {
        throw new OutsideApiBaseError(
          'the Git host redirected to an invalid URL',
        );
      }
      if (!isWithinApiBase(next, apiBase)) {
        throw new OutsideApiBaseError(
          `the Git host redirected outside its configured API base ${apiBase.origin}; not followed`,
        );
      }
      request = new Request(next, {
        method,
        headers: request.headers,
        signal: request.signal,
        redirect: 'manual',
      });
    }
  };
}
