import type { IncomingMessage } from 'node:http';
import type { OAuthAccessToken, PersonalAccessToken, User } from './state';

/** An answer other than success, shaped like GitLab's (Grape) error bodies. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.name = 'ApiError';
  }
}

/** `not_found!('Project')` → 404 `{"message":"404 Project Not Found"}`. */
export function notFound(what: string): ApiError {
  return new ApiError(404, { message: `404 ${what} Not Found` });
}

export function forbidden(): ApiError {
  return new ApiError(403, { message: '403 Forbidden' });
}

export function unauthorized(): ApiError {
  return new ApiError(401, { message: '401 Unauthorized' });
}

/** `bad_request!(reason)` → 400 `{"message":"400 Bad request - <reason>"}`. */
export function badRequest(reason: string): ApiError {
  return new ApiError(400, { message: `400 Bad request - ${reason}` });
}

/** A model validation failure: 400 `{"message":{"field":["error"]}}`. */
export function validationError(errors: Record<string, string[]>): ApiError {
  return new ApiError(400, { message: errors });
}

/**
 * Who is calling: a user acting through one of their tokens, a personal (project, group)
 * access token or an OAuth access token an application obtained for them.
 */
export interface Caller {
  user: User;
  token: PersonalAccessToken | OAuthAccessToken;
}

/** Whether a caller's token is an OAuth access token (not a personal access token). */
export function isOAuthToken(
  token: PersonalAccessToken | OAuthAccessToken,
): token is OAuthAccessToken {
  return 'applicationId' in token;
}

export type Input = Record<string, unknown>;

export interface RequestContext {
  req: IncomingMessage;
  /** Path parameters, URL-decoded. */
  params: Record<string, string>;
  /** Query parameters merged with the (JSON or form) body, as Grape does. */
  input: Input;
  /** Undefined for an anonymous request. */
  caller?: Caller;
  /** The request URL (absolute, as the client sent it). */
  url: URL;
}

export type ApiResult =
  | { status?: number; body: unknown; headers?: Record<string, string> }
  | {
      status?: number;
      raw: Buffer;
      contentType: string;
      headers?: Record<string, string>;
    };

export type Handler = (
  context: RequestContext,
) => Promise<ApiResult> | ApiResult;

export interface RouteOptions {
  /** Token scopes that allow the route, `api` aside (default: `read_api` for GET). */
  scopes?: string[];
  /** Whether it answers without a token (public projects and groups). */
  anonymous?: boolean;
}

export interface Route extends RouteOptions {
  method: string;
  segments: string[];
  handler: Handler;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** Routes like `projects/:id/hooks/:hook_id`, matched on URL-decoded path segments. */
export class Router {
  readonly #routes: Route[] = [];

  add(
    method: string,
    path: string,
    handler: Handler,
    options: RouteOptions = {},
  ): this {
    this.#routes.push({
      method,
      segments: path.split('/'),
      handler,
      ...options,
    });
    return this;
  }

  get(path: string, handler: Handler, options?: RouteOptions): this {
    return this.add('GET', path, handler, options);
  }

  post(path: string, handler: Handler, options?: RouteOptions): this {
    return this.add('POST', path, handler, options);
  }

  put(path: string, handler: Handler, options?: RouteOptions): this {
    return this.add('PUT', path, handler, options);
  }

  delete(path: string, handler: Handler, options?: RouteOptions): this {
    return this.add('DELETE', path, handler, options);
  }

  match(method: string, segments: string[]): RouteMatch | undefined {
    for (const route of this.#routes) {
      if (
        route.method !== method ||
        route.segments.length !== segments.length
      ) {
        continue;
      }
      const params: Record<string, string> = {};
      const matches = route.segments.every((pattern, i) => {
        if (pattern.startsWith(':')) {
          params[pattern.slice(1)] = segments[i];
          return true;
        }
        return pattern === segments[i];
      });
      if (matches) {
        return { route, params };
      }
    }
    return undefined;
  }
}

/**
 * Reads request parameters the way Grape declares them, collecting every problem into
 * one 400 `{"error":"name is missing, scopes does not have a valid value"}`.
 */
export class Params {
  readonly #errors: string[] = [];

  constructor(private readonly input: Input) {}

  has(name: string): boolean {
    return this.input[name] !== undefined && this.input[name] !== null;
  }

  string(
    name: string,
    options: { required?: boolean; values?: readonly string[] } = {},
  ): string | undefined {
    const value = this.input[name];
    if (value === undefined || value === null || value === '') {
      if (options.required) {
        this.#errors.push(`${name} is missing`);
      }
      return undefined;
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.#errors.push(`${name} is invalid`);
      return undefined;
    }
    const text = String(value);
    if (options.values && !options.values.includes(text)) {
      this.#errors.push(`${name} does not have a valid value`);
      return undefined;
    }
    return text;
  }

  boolean(name: string): boolean | undefined {
    const value = this.input[name];
    if (value === undefined || value === null || value === '') {
      return undefined;
    }
    if (typeof value === 'boolean') {
      return value;
    }
    if (['true', '1', 't', 'yes'].includes(String(value).toLowerCase())) {
      return true;
    }
    if (['false', '0', 'f', 'no'].includes(String(value).toLowerCase())) {
      return false;
    }
    this.#errors.push(`${name} is invalid`);
    return undefined;
  }

  integer(
    name: string,
    options: { required?: boolean; values?: readonly number[] } = {},
  ): number | undefined {
    const value = this.input[name];
    if (value === undefined || value === null || value === '') {
      if (options.required) {
        this.#errors.push(`${name} is missing`);
      }
      return undefined;
    }
    const number = Number(value);
    if (!Number.isInteger(number)) {
      this.#errors.push(`${name} is invalid`);
      return undefined;
    }
    if (options.values && !options.values.includes(number)) {
      this.#errors.push(`${name} does not have a valid value`);
      return undefined;
    }
    return number;
  }

  stringArray(
    name: string,
    options: { required?: boolean; values?: readonly string[] } = {},
  ): string[] | undefined {
    const value = this.input[name];
    if (value === undefined || value === null) {
      if (options.required) {
        this.#errors.push(`${name} is missing`);
      }
      return undefined;
    }
    const items = Array.isArray(value) ? value : String(value).split(',');
    if (items.some(item => typeof item !== 'string')) {
      this.#errors.push(`${name} is invalid`);
      return undefined;
    }
    if (options.values && items.some(item => !options.values!.includes(item))) {
      this.#errors.push(`${name} does not have a valid value`);
      return undefined;
    }
    return items as string[];
  }

  /** A `YYYY-MM-DD` date. */
  date(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) {
      return undefined;
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
      this.#errors.push(`${name} is invalid`);
      return undefined;
    }
    return value;
  }

  dateTime(name: string): Date | undefined {
    const value = this.string(name);
    if (value === undefined) {
      return undefined;
    }
    const time = Date.parse(value);
    if (Number.isNaN(time)) {
      this.#errors.push(`${name} is invalid`);
      return undefined;
    }
    return new Date(time);
  }

  /** Throws the collected errors, if any. */
  check(): void {
    if (this.#errors.length > 0) {
      throw new ApiError(400, { error: this.#errors.join(', ') });
    }
  }
}

const DEFAULT_PER_PAGE = 20;
const MAX_PER_PAGE = 100;

/**
 * One page of a list with GitLab's offset pagination headers (`X-Total`, `X-Page`,
 * `X-Per-Page`, `X-Next-Page`, `X-Prev-Page`, `X-Total-Pages`, `Link`).
 */
export function paginate<T>(
  context: RequestContext,
  items: readonly T[],
  render: (item: T) => unknown,
): ApiResult {
  const params = new Params(context.input);
  const page = Math.max(1, params.integer('page') ?? 1);
  const requested = params.integer('per_page') ?? DEFAULT_PER_PAGE;
  const perPage =
    requested < 1 ? DEFAULT_PER_PAGE : Math.min(requested, MAX_PER_PAGE);
  params.check();
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  const pageUrl = (n: number) => {
    const url = new URL(context.url);
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(perPage));
    return url.toString();
  };
  const links = [];
  if (page > 1) {
    links.push(`<${pageUrl(page - 1)}>; rel="prev"`);
  }
  if (page < totalPages) {
    links.push(`<${pageUrl(page + 1)}>; rel="next"`);
  }
  links.push(
    `<${pageUrl(1)}>; rel="first"`,
    `<${pageUrl(totalPages)}>; rel="last"`,
  );
  return {
    body: items.slice((page - 1) * perPage, page * perPage).map(render),
    headers: {
      'X-Total': String(items.length),
      'X-Total-Pages': String(totalPages),
      'X-Page': String(page),
      'X-Per-Page': String(perPage),
      'X-Next-Page': page < totalPages ? String(page + 1) : '',
      'X-Prev-Page': page > 1 ? String(page - 1) : '',
      Link: links.join(', '),
    },
  };
}
