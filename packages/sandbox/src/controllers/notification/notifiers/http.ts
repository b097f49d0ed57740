export type FetchLike = typeof fetch;

/** A failed delivery; `retryable` when a later attempt may succeed (network, 429, 5xx). */
export class NotifierError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'NotifierError';
  }
}

export interface RequestContext {
  fetch: FetchLike;
  signal: AbortSignal;
}

export interface HttpResult {
  status: number;
  text: string;
  json?: unknown;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Sends a request; network failures become retryable NotifierErrors, HTTP statuses are returned. */
export async function sendRequest(
  context: RequestContext,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpResult> {
  let response: Response;
  try {
    response = await context.fetch(url, {
      method,
      headers,
      body,
      signal: context.signal,
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new NotifierError(
      `${method} ${url}: ${(error as Error).message}${
        cause ? `: ${cause}` : ''
      }`,
      !context.signal.aborted,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

export function isSuccess(result: HttpResult): boolean {
  return result.status >= 200 && result.status < 300;
}
