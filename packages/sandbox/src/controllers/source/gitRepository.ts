import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { selectHighestTag } from '../../oci/semver';
import { durationOr } from '../duration';
import { isLoopbackHost, unreachableHostMessage } from '../network';
import { SourceIgnoreMatcher } from '../sourceignore';
import type { StatusSession } from '../status';
import {
  GitClientError,
  commitMessage,
  exportCommit,
  fetchIntoCache,
  hasCommit,
  listRemoteRefs,
  shortMessage,
  type GitHttpAuth,
  type RemoteRefs,
} from './git';
import {
  ARTIFACT_IN_STORAGE,
  FETCH_FAILED,
  SourceError,
  readSecret,
  secretNotFound,
  type ProduceHelpers,
  type ProducedArtifact,
  type SourceKindHandler,
  type SourceStatus,
} from './sourceReconciler';

export const GIT_REPOSITORY_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
} as const;

/**
 * Maps an `ssh://` GitRepository URL and its Secret (keys `identity`, `known_hosts`…)
 * to an HTTP URL and Basic credentials the sandbox can fetch with, or explains with an
 * Error why the SSH handshake would fail (it becomes the FetchFailed message).
 */
export type SshTransport = (
  url: string,
  secret: Record<string, string>,
) => { httpUrl: string; username: string; password: string } | Error;

interface GitRepositoryRef {
  branch?: string;
  tag?: string;
  semver?: string;
  name?: string;
  commit?: string;
}

interface GitRepositorySpec {
  url?: string;
  ref?: GitRepositoryRef;
  secretRef?: { name?: string };
  timeout?: string;
  ignore?: string;
}

/** What to check out, resolved against the advertised refs. */
interface Checkout {
  sha: string;
  revision: string;
  refspecs: string[];
  shallow: boolean;
}

const DEFAULT_BRANCH = 'master';
const TARGET_REF = 'refs/flux/target';

function checkoutFailed(url: string, error: unknown): SourceError {
  const detail = error instanceof Error ? error.message : String(error);
  return new SourceError(
    FETCH_FAILED,
    'GitOperationFailed',
    `failed to checkout and determine revision: unable to clone '${url}': ${detail}`,
  );
}

function refNotFound(ref: string): GitClientError {
  return new GitClientError(`couldn't find remote ref "${ref}"`);
}

/** Flux's clone strategy order: commit, then name, then semver, then tag, then branch. */
function resolveCheckout(
  ref: GitRepositoryRef | undefined,
  remote: RemoteRefs,
): Checkout {
  if (ref?.commit) {
    const refspecs = ref.branch
      ? [`+refs/heads/${ref.branch}:${TARGET_REF}`]
      : ['+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'];
    return {
      sha: ref.commit,
      revision: ref.branch
        ? `${ref.branch}@sha1:${ref.commit}`
        : `sha1:${ref.commit}`,
      refspecs,
      shallow: false,
    };
  }
  if (ref?.name) {
    const sha = remote.refs.get(ref.name);
    if (!sha) throw refNotFound(ref.name);
    return {
      sha,
      revision: `${ref.name}@sha1:${sha}`,
      refspecs: [`+${ref.name}:${TARGET_REF}`],
      shallow: true,
    };
  }
  if (ref?.semver) {
    const tags = [...remote.refs.keys()]
      .filter(r => r.startsWith('refs/tags/'))
      .map(r => r.slice('refs/tags/'.length));
    let tag: string | undefined;
    try {
      tag = selectHighestTag(tags, ref.semver);
    } catch {
      throw new SourceError(
        FETCH_FAILED,
        'GitOperationFailed',
        `failed to checkout and determine revision: semver parse error: improper constraint: ${ref.semver}`,
      );
    }
    if (!tag) {
      throw new SourceError(
        FETCH_FAILED,
        'GitOperationFailed',
        `failed to checkout and determine revision: no match found for semver: ${ref.semver}`,
      );
    }
    return tagCheckout(tag, remote);
  }
  if (ref?.tag) return tagCheckout(ref.tag, remote);
  const branch = ref?.branch || DEFAULT_BRANCH;
  const sha = remote.refs.get(`refs/heads/${branch}`);
  if (!sha) throw refNotFound(`refs/heads/${branch}`);
  return {
    sha,
    revision: `${branch}@sha1:${sha}`,
    refspecs: [`+refs/heads/${branch}:${TARGET_REF}`],
    shallow: true,
  };
}

function tagCheckout(tag: string, remote: RemoteRefs): Checkout {
  const sha = remote.refs.get(`refs/tags/${tag}`);
  if (!sha) throw refNotFound(`refs/tags/${tag}`);
  return {
    sha,
    revision: `${tag}@sha1:${sha}`,
    refspecs: [`+refs/tags/${tag}:${TARGET_REF}`],
    shallow: true,
  };
}

interface Transport {
  fetchUrl: string;
  auth?: GitHttpAuth;
}

function authOptionError(message: string): SourceError {
  return new SourceError(
    FETCH_FAILED,
    'AuthenticationFailed',
    `failed to configure authentication options: ${message}`,
  );
}

async function resolveTransport(
  url: string,
  protocol: string,
  secret: Record<string, string> | undefined,
  caFile: string,
  sshTransport: SshTransport | undefined,
): Promise<Transport> {
  if (protocol === 'http:' || protocol === 'https:') {
    if (!secret) return { fetchUrl: url };
    const transport = protocol.slice(0, -1);
    if (!secret.username && secret.password) {
      throw authOptionError(
        `invalid '${transport}' auth option: 'password' requires 'username' to be set`,
      );
    }
    const auth: GitHttpAuth = {
      username: secret.username,
      password: secret.password,
      bearerToken: secret.bearerToken,
    };
    const ca = secret['ca.crt'] ?? secret.caFile;
    if (ca && protocol === 'https:') {
      await writeFile(caFile, ca);
      auth.caFile = caFile;
    }
    return { fetchUrl: url, auth };
  }
  if (protocol === 'ssh:') {
    if (!secret?.identity)
      throw authOptionError(
        `invalid 'ssh' auth option: 'identity' is required`,
      );
    if (!secret.known_hosts) {
      throw authOptionError(
        `invalid 'ssh' auth option: 'known_hosts' is required`,
      );
    }
    if (!sshTransport) {
      throw checkoutFailed(
        url,
        'ssh: handshake failed: no SSH server is reachable from the sandbox',
      );
    }
    const mapped = sshTransport(url, secret);
    if (mapped instanceof Error) throw checkoutFailed(url, mapped);
    return {
      fetchUrl: mapped.httpUrl,
      auth: { username: mapped.username, password: mapped.password },
    };
  }
  throw new SourceError(
    FETCH_FAILED,
    'URLInvalid',
    `failed to configure authentication options: no transport type set for URL '${url}'`,
    'stalling',
  );
}

async function readRootSourceIgnore(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, '.sourceignore'), 'utf8');
  } catch {
    return undefined;
  }
}

/** source-controller's GitRepository reconciler (fetch and archive; no includes or verification). */
export function gitRepositoryHandler(options: {
  sshTransport?: SshTransport;
}): SourceKindHandler {
  const cacheDirFor = (workDir: string, namespace: string, name: string) =>
    join(workDir, 'git', namespace, name);

  return {
    type: GIT_REPOSITORY_TYPE,

    async produce(
      session: StatusSession<SourceStatus>,
      { env, markNewRevision }: ProduceHelpers,
    ): Promise<ProducedArtifact> {
      const spec = session.spec as GitRepositorySpec;
      const url = spec.url ?? '';
      const namespace = session.namespace ?? 'default';
      let protocol: string;
      try {
        protocol = new URL(url).protocol;
      } catch (error) {
        throw new SourceError(
          FETCH_FAILED,
          'URLInvalid',
          `failed to parse url '${url}': ${(error as Error).message}`,
          'stalling',
        );
      }

      let secret: Record<string, string> | undefined;
      if (spec.secretRef?.name) {
        secret = readSecret(env.store, namespace, spec.secretRef.name);
        if (!secret) {
          throw new SourceError(
            FETCH_FAILED,
            'AuthenticationFailed',
            secretNotFound(namespace, spec.secretRef.name),
          );
        }
      }
      await mkdir(join(env.workDir, 'ca'), { recursive: true });
      const transport = await resolveTransport(
        url,
        protocol,
        secret,
        join(env.workDir, 'ca', `${namespace}-${session.name}.crt`),
        options.sshTransport,
      );

      const injected = env.faults.sourceFetchFailure(
        'GitRepository',
        namespace,
        session.name,
      );
      if (injected !== undefined) throw checkoutFailed(url, injected);
      const { hostname } = new URL(transport.fetchUrl);
      if (!isLoopbackHost(hostname)) {
        const infoRefs = `${transport.fetchUrl.replace(
          /\/$/,
          '',
        )}/info/refs?service=git-upload-pack`;
        throw checkoutFailed(url, unreachableHostMessage(infoRefs, hostname));
      }

      const timeoutMs = durationOr(spec.timeout, 60_000);
      let checkout: Checkout;
      try {
        const remote = await listRemoteRefs(
          transport.fetchUrl,
          transport.auth,
          {
            signal: env.signal,
            timeoutMs,
          },
        );
        if (remote.refs.size === 0)
          throw new GitClientError('remote repository is empty');
        checkout = resolveCheckout(spec.ref, remote);
      } catch (error) {
        if (error instanceof SourceError) throw error;
        env.signal.throwIfAborted();
        throw checkoutFailed(url, error);
      }

      const storedMessage = `stored artifact for revision '${checkout.revision}'`;
      const current = session.status.artifact;
      const contentUnchanged =
        (spec.ignore ?? undefined) ===
        (session.status.observedIgnore ?? undefined);
      if (
        current?.revision === checkout.revision &&
        contentUnchanged &&
        session.conditions.isTrue(ARTIFACT_IN_STORAGE)
      ) {
        // go-git's no-op clone: the remote still points at the stored revision.
        return {
          artifact: current,
          storedMessage,
          event: {
            reason: 'NewArtifact',
            message: `stored artifact for commit '${checkout.revision}'`,
          },
        };
      }
      if (current?.revision !== checkout.revision) {
        await markNewRevision(`new upstream revision '${checkout.revision}'`);
      }

      const cacheDir = cacheDirFor(env.workDir, namespace, session.name);
      const sha = checkout.sha;
      try {
        await fetchIntoCache(
          cacheDir,
          transport.fetchUrl,
          transport.auth,
          checkout.refspecs,
          {
            depth: checkout.shallow ? 1 : undefined,
            signal: env.signal,
            timeoutMs,
          },
        );
        if (!(await hasCommit(cacheDir, sha))) {
          throw new GitClientError(
            `unable to resolve commit object for '${sha}': object not found`,
          );
        }
      } catch (error) {
        env.signal.throwIfAborted();
        throw checkoutFailed(url, error);
      }
      const subject = shortMessage(await commitMessage(cacheDir, sha));

      await mkdir(join(env.workDir, 'tmp'), { recursive: true });
      const checkoutDir = await mkdtemp(
        join(env.workDir, 'tmp', 'gitrepository-'),
      );
      try {
        await exportCommit(cacheDir, sha, checkoutDir, env.signal);
        const ignore = SourceIgnoreMatcher.withDefaults(
          await readRootSourceIgnore(checkoutDir),
          spec.ignore,
        );
        const artifact = await env.storage.archiveDirectory(
          checkoutDir,
          {
            kind: 'GitRepository',
            namespace,
            name: session.name,
            fileName: `${sha}.tar.gz`,
          },
          checkout.revision,
          { ignore },
        );
        return {
          artifact,
          storedMessage,
          event: {
            reason: 'NewArtifact',
            message: `stored artifact for commit '${subject}'`,
          },
          observed: { observedIgnore: spec.ignore },
        };
      } finally {
        await rm(checkoutDir, { recursive: true, force: true });
      }
    },

    async cleanup(env, namespace, name) {
      await rm(cacheDirFor(env.workDir, namespace, name), {
        recursive: true,
        force: true,
      });
    },
  };
}
