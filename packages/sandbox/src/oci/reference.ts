import { isIP } from 'node:net';
import { OciError } from './errors';

/** Where an `oci://host/repository` URL points. */
export interface OciRepositoryRef {
  /** `host[:port]` as written in the URL. */
  registry: string;
  /** The repository path inside the registry, e.g. `team/podinfo`. */
  repository: string;
  /** `http(s)://host[:port]`, the base of the distribution API. */
  baseUrl: string;
}

// The distribution spec's grammar for repository names.
const REPOSITORY_NAME =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/**
 * Parses a Flux OCIRepository URL. Like go-containerregistry, plain HTTP is used for
 * loopback, `localhost` and private (RFC 1918) hosts, HTTPS otherwise unless `insecure`.
 */
export function parseOciUrl(url: string, insecure = false): OciRepositoryRef {
  const match = /^oci:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) {
    throw new OciError(
      `invalid OCI repository URL '${url}': expected oci://<host>/<repository>`,
    );
  }
  const [, registry, repository] = match;
  if (!REPOSITORY_NAME.test(repository)) {
    throw new OciError(
      `invalid OCI repository URL '${url}': '${repository}' is not a valid repository name (tags and digests go in the reference, not the URL)`,
      undefined,
      'NAME_INVALID',
    );
  }
  const scheme = insecure || isPlainHttpHost(registry) ? 'http' : 'https';
  return { registry, repository, baseUrl: `${scheme}://${registry}` };
}

function isPlainHttpHost(registry: string): boolean {
  const host = registry.startsWith('[')
    ? registry.slice(1, registry.indexOf(']'))
    : registry.replace(/:\d+$/, '');
  if (host === 'localhost' || host.endsWith('.local')) return true;
  if (isIP(host) === 6) return host === '::1';
  if (isIP(host) !== 4) return false;
  const [a, b] = host.split('.').map(Number);
  return (
    a === 127 ||
    a === 10 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168)
  );
}
