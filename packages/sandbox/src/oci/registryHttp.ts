import { OciAuthError, OciError, OciNotFoundError } from './errors';
import type { OciRepositoryRef } from './reference';

export interface OciCredentials {
  username: string;
  password: string;
}

interface RegistryErrorEntry {
  code?: string;
  message?: string;
}

export interface RegistryRequest {
  method?: string;
  /** A path under `/v2/<repository>/`, or an absolute URL (upload locations). */
  target: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The message of the OciNotFoundError a 404 becomes. */
  notFound: string;
  /** Statuses that are answers rather than errors (e.g. 404 when probing a blob). */
  accept?: number[];
}

/** One call to the distribution API, with Basic auth and the registry's errors mapped to classes. */
export async function registryFetch(
  ref: OciRepositoryRef,
  credentials: OciCredentials | undefined,
  request: RegistryRequest,
): Promise<Response> {
  const method = request.method ?? 'GET';
  const url = /^https?:\/\//.test(request.target)
    ? request.target
    : `${ref.baseUrl}/v2/${ref.repository}/${request.target}`;
  const headers: Record<string, string> = { ...request.headers };
  if (credentials) {
    const token = Buffer.from(
      `${credentials.username}:${credentials.password}`,
    );
    headers.authorization = `Basic ${token.toString('base64')}`;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: request.body,
      redirect: 'follow',
    });
  } catch (error) {
    throw new OciError(
      `${method} ${url}: ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  if (response.ok || request.accept?.includes(response.status)) return response;
  throw await toError(
    response,
    method,
    url,
    ref,
    credentials,
    request.notFound,
  );
}

async function toError(
  response: Response,
  method: string,
  url: string,
  ref: OciRepositoryRef,
  credentials: OciCredentials | undefined,
  notFound: string,
): Promise<OciError> {
  const entry = await readErrorEntry(response);
  const code = entry?.code;
  const detail = `${method} ${url}: ${code ?? `status ${response.status}`}${
    entry?.message ? `: ${entry.message}` : ''
  }`;
  const where = `${ref.registry}/${ref.repository}`;
  if (response.status === 401) {
    const what = credentials
      ? `authentication failed for ${where}`
      : `authentication required by ${where} (no credentials given)`;
    return new OciAuthError(`${what}: ${detail}`, 401, code);
  }
  if (response.status === 403) {
    return new OciAuthError(`access denied to ${where}: ${detail}`, 403, code);
  }
  if (response.status === 404) {
    return new OciNotFoundError(`${notFound}: ${detail}`, 404, code);
  }
  return new OciError(detail, response.status, code);
}

async function readErrorEntry(
  response: Response,
): Promise<RegistryErrorEntry | undefined> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: RegistryErrorEntry[] };
    return body.errors?.[0];
  } catch {
    return undefined;
  }
}
