/**
 * Delivery repository URLs as Flux sources spell them, reduced to one comparable form.
 * `https://GitLab.example.com/team/app.git`, `ssh://git@gitlab.example.com/team/app`,
 * `git@gitlab.example.com:team/app.git` all name the same repository, as do
 * `oci://registry.example.com/team/app` with or without a tag.
 */

/** @public */
export type DeliveryRepositoryKind = 'git' | 'oci';

/** @public */
export interface ParsedRepositoryUrl {
  kind: DeliveryRepositoryKind;
  /** Lower-cased host, with the port only when it is not the scheme's default. */
  host: string;
  /** Path without leading/trailing slashes and without `.git`, e.g. `team/delivery`. */
  path: string;
  /** `git:<host>/<path>` or `oci:<host>/<path>`: equal for the same repository. */
  normalized: string;
}

/** @public */
export class InvalidRepositoryUrlError extends Error {
  constructor(url: string, reason: string) {
    super(`Invalid delivery repository URL "${url}": ${reason}`);
    this.name = 'InvalidRepositoryUrlError';
  }
}

// scp-like Git syntax: user@host:path (no scheme, no slash before the colon).
const SCP_LIKE = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/;
const SCHEME_KINDS: Record<string, DeliveryRepositoryKind | undefined> = {
  'https:': 'git',
  'http:': 'git',
  'ssh:': 'git',
  'oci:': 'oci',
};
const DEFAULT_PORTS: Record<string, string> = {
  'https:': '443',
  'http:': '80',
  'ssh:': '22',
};

function hasControlCharacter(text: string): boolean {
  return [...text].some(
    c => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f,
  );
}

function cleanPath(url: string, path: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new InvalidRepositoryUrlError(
      url,
      'the path has a malformed %-escape',
    );
  }
  if (hasControlCharacter(decoded)) {
    throw new InvalidRepositoryUrlError(url, 'it contains control characters');
  }
  const segments = decoded
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '')
    .split('/');
  if (
    segments.length === 0 ||
    segments.some(s => s === '' || s === '.' || s === '..')
  ) {
    throw new InvalidRepositoryUrlError(url, 'the path must name a repository');
  }
  return segments.join('/');
}

/**
 * `kind:host/path`, built by `join` so it is one flat string: the GitOps backend keeps one
 * per cached source, and a template literal would keep a chain of pieces instead.
 */
function normalize(kind: string, host: string, path: string): string {
  return [kind, ':', host, '/', path].join('');
}

/**
 * Parses a Git (`https://`, `http://`, `ssh://`, scp-like) or OCI (`oci://`) URL.
 * Throws {@link InvalidRepositoryUrlError} naming the problem otherwise.
 *
 * @public
 */
export function parseRepositoryUrl(url: string): ParsedRepositoryUrl {
  const input = url.trim();
  if (!input) {
    throw new InvalidRepositoryUrlError(url, 'it is empty');
  }
  // WHATWG URL parsing would drop tabs and newlines silently; a NUL would reach storage.
  if (hasControlCharacter(input)) {
    throw new InvalidRepositoryUrlError(url, 'it contains control characters');
  }
  if (!input.includes('://')) {
    const scp = SCP_LIKE.exec(input);
    if (!scp) {
      throw new InvalidRepositoryUrlError(
        url,
        'expected https://, ssh://, oci:// or user@host:path',
      );
    }
    const host = scp[1].toLowerCase();
    const path = cleanPath(url, scp[2]);
    return {
      kind: 'git',
      host,
      path,
      normalized: normalize('git', host, path),
    };
  }

  // WHATWG URL parsing would silently resolve `..`; a URL that needs it is refused instead.
  if (
    input.split(/[/?#]/).some(segment => segment === '..' || segment === '.')
  ) {
    throw new InvalidRepositoryUrlError(url, 'the path must name a repository');
  }
  let parsed: URL;
  try {
    parsed = new URL(input);
  } catch {
    throw new InvalidRepositoryUrlError(url, 'it is not a URL');
  }
  const kind = SCHEME_KINDS[parsed.protocol];
  if (!kind) {
    throw new InvalidRepositoryUrlError(
      url,
      `unsupported scheme ${parsed.protocol.replace(/:$/, '')}`,
    );
  }
  if (!parsed.hostname) {
    throw new InvalidRepositoryUrlError(url, 'it has no host');
  }
  if (parsed.search || parsed.hash) {
    throw new InvalidRepositoryUrlError(
      url,
      'query and fragment are not allowed',
    );
  }
  const port =
    parsed.port && parsed.port !== DEFAULT_PORTS[parsed.protocol]
      ? `:${parsed.port}`
      : '';
  const host = `${parsed.hostname.toLowerCase()}${port}`;
  // An OCI URL may carry a tag or digest (`repo:1.0`, `repo@sha256:…`); the repository is what matters.
  const rawPath =
    kind === 'oci'
      ? parsed.pathname.replace(/(@sha256:[a-f0-9]+|:[\w][\w.-]*)$/, '')
      : parsed.pathname;
  const path = cleanPath(url, rawPath);
  return { kind, host, path, normalized: normalize(kind, host, path) };
}
