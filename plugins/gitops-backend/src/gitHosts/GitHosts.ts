import { Config } from '@backstage/config';
import {
  DefaultGithubCredentialsProvider,
  ScmIntegrations,
} from '@backstage/integration';
import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { Octokit } from '@octokit/rest';
import { githubClient } from './githubClient';
import { GitLabApi, gitlabApiFor } from './gitlabApi';

export type GitHostKind = 'gitlab' | 'github';

/**
 * A commit status as both hosts take it; on GitHub `failed` is `failure` and
 * `canceled` (superseded) is `error`, as it has no canceled state.
 */
export interface CommitStatus {
  state: 'pending' | 'success' | 'failed' | 'canceled';
  /** Names the status on the commit: one per cluster and Kustomization. */
  context: string;
  description: string;
  targetUrl?: string;
}

/** The push webhook the backend keeps on a repository. */
export interface PushWebhook {
  url: string;
  secret: string;
}

/** What the backend does on a Git host, for one repository at a time. */
export interface GitHostClient {
  readonly kind: GitHostKind;
  /**
   * Makes sure the repository has a push webhook to `hook.url` and returns its id.
   * An existing hook to that URL is kept; its secret is set again only when
   * `setSecret` (hosts never show a hook's secret, so it cannot be compared).
   */
  ensurePushWebhook(
    repository: ParsedRepositoryUrl,
    hook: PushWebhook,
    options: { setSecret: boolean },
  ): Promise<{ id: string; created: boolean }>;
  /** Deletes the hook; one that is already gone is not an error. */
  removeWebhook(repository: ParsedRepositoryUrl, id: string): Promise<void>;
  setCommitStatus(
    repository: ParsedRepositoryUrl,
    sha: string,
    status: CommitStatus,
  ): Promise<void>;
  /**
   * Whether the person whose account on this host is `login` (undefined: none known)
   * may read the repository, as the host decides: anyone a public one, otherwise its
   * members with read access. Undefined when the backend's own credentials cannot see
   * the repository either.
   */
  readAccess(
    repository: ParsedRepositoryUrl,
    login: string | undefined,
  ): Promise<ReadAccess | undefined>;
}

/** A person's read access to a repository, and why, in words for an error message. */
export interface ReadAccess {
  readable: boolean;
  reason: string;
}

// GitHub rejects a description over 140 characters; GitLab takes more but shows a line.
const MAX_DESCRIPTION = 140;

function shortDescription(description: string): string {
  return description.length <= MAX_DESCRIPTION
    ? description
    : `${description.slice(0, MAX_DESCRIPTION - 1)}\u2026`;
}

/** A Git commit id (SHA-1, or SHA-256 for repositories in that format). */
const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Refuses a commit id that is not one (it is joined into the API path): revisions come
 * from clusters and webhooks.
 */
function assertCommitSha(sha: string) {
  if (!COMMIT_SHA.test(sha)) {
    throw new Error('not a commit id (40 or 64 lowercase hex digits)');
  }
}

function isNotFound(error: unknown): boolean {
  const status =
    (error as { cause?: { response?: { status?: number } } })?.cause?.response
      ?.status ?? (error as { status?: number })?.status;
  return status === 404;
}

const GITHUB_STATES = {
  pending: 'pending',
  success: 'success',
  failed: 'failure',
  canceled: 'error',
} as const;

/** GitLab's access level from which a member reads a private project's code. */
const GITLAB_REPORTER = 20;

class GitLabHostClient implements GitHostClient {
  readonly kind = 'gitlab';

  constructor(private readonly api: GitLabApi) {}

  async ensurePushWebhook(
    repository: ParsedRepositoryUrl,
    hook: PushWebhook,
    options: { setSecret: boolean },
  ) {
    const hooks = await this.api.ProjectHooks.all(repository.path);
    const settings = {
      token: hook.secret,
      pushEvents: true,
      enableSslVerification: hook.url.startsWith('https:'),
    };
    const existing = hooks.find(h => h.url === hook.url);
    if (existing) {
      if (options.setSecret || !existing.push_events) {
        await this.api.ProjectHooks.edit(
          repository.path,
          existing.id,
          hook.url,
          settings,
        );
      }
      return { id: String(existing.id), created: false };
    }
    const created = await this.api.ProjectHooks.add(
      repository.path,
      hook.url,
      settings,
    );
    return { id: String(created.id), created: true };
  }

  async removeWebhook(repository: ParsedRepositoryUrl, id: string) {
    try {
      await this.api.ProjectHooks.remove(repository.path, Number(id));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async setCommitStatus(
    repository: ParsedRepositoryUrl,
    sha: string,
    status: CommitStatus,
  ) {
    assertCommitSha(sha);
    await this.api.Commits.editStatus(repository.path, sha, status.state, {
      name: status.context,
      description: shortDescription(status.description),
      targetUrl: status.targetUrl,
    });
  }

  async readAccess(
    repository: ParsedRepositoryUrl,
    login: string | undefined,
  ): Promise<ReadAccess | undefined> {
    const where = `${repository.path} on ${repository.host}`;
    let visibility: string;
    try {
      visibility = String(
        (await this.api.Projects.show(repository.path)).visibility,
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (visibility === 'public') {
      return { readable: true, reason: `${where} is public` };
    }
    if (!login) {
      return {
        readable: false,
        reason: `${where} is ${visibility} and no account of yours there is known`,
      };
    }
    const [user] = await this.api.Users.all({ username: login });
    if (!user || user.username.toLowerCase() !== login.toLowerCase()) {
      return {
        readable: false,
        reason: `${repository.host} has no user ${login}`,
      };
    }
    // An internal project is open to every user of the instance.
    if (visibility === 'internal') {
      return { readable: true, reason: `${where} is internal` };
    }
    try {
      const member = await this.api.ProjectMembers.show(
        repository.path,
        user.id,
        { includeInherited: true },
      );
      return Number(member.access_level) >= GITLAB_REPORTER
        ? { readable: true, reason: `${login} is a member of ${where}` }
        : {
            readable: false,
            reason: `${login} is a guest of ${where}, which cannot read its code`,
          };
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return {
        readable: false,
        reason: `${where} is private and ${login} is not a member`,
      };
    }
  }
}

class GitHubHostClient implements GitHostClient {
  readonly kind = 'github';

  constructor(
    private readonly octokit: (
      repository: ParsedRepositoryUrl,
    ) => Promise<Octokit>,
  ) {}

  async ensurePushWebhook(
    repository: ParsedRepositoryUrl,
    hook: PushWebhook,
    options: { setSecret: boolean },
  ) {
    const octokit = await this.octokit(repository);
    const { owner, repo } = ownerAndRepo(repository);
    const config = {
      url: hook.url,
      // The events backend parses JSON bodies only.
      content_type: 'json',
      secret: hook.secret,
      insecure_ssl: '0',
    };
    const hooks = await octokit.paginate(octokit.repos.listWebhooks, {
      owner,
      repo,
      per_page: 100,
    });
    const existing = hooks.find(h => h.config.url === hook.url);
    if (existing) {
      if (options.setSecret || !existing.events.includes('push')) {
        await octokit.repos.updateWebhook({
          owner,
          repo,
          hook_id: existing.id,
          config,
          events: ['push'],
          active: true,
        });
      }
      return { id: String(existing.id), created: false };
    }
    const { data } = await octokit.repos.createWebhook({
      owner,
      repo,
      name: 'web',
      active: true,
      events: ['push'],
      config,
    });
    return { id: String(data.id), created: true };
  }

  async removeWebhook(repository: ParsedRepositoryUrl, id: string) {
    const octokit = await this.octokit(repository);
    try {
      await octokit.repos.deleteWebhook({
        ...ownerAndRepo(repository),
        hook_id: Number(id),
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async setCommitStatus(
    repository: ParsedRepositoryUrl,
    sha: string,
    status: CommitStatus,
  ) {
    assertCommitSha(sha);
    const octokit = await this.octokit(repository);
    await octokit.repos.createCommitStatus({
      ...ownerAndRepo(repository),
      sha,
      state: GITHUB_STATES[status.state],
      context: status.context,
      description: shortDescription(status.description),
      target_url: status.targetUrl,
    });
  }

  async readAccess(
    repository: ParsedRepositoryUrl,
    login: string | undefined,
  ): Promise<ReadAccess | undefined> {
    const octokit = await this.octokit(repository);
    const { owner, repo } = ownerAndRepo(repository);
    const where = `${repository.path} on ${repository.host}`;
    let isPrivate: boolean;
    try {
      isPrivate = (await octokit.repos.get({ owner, repo })).data.private;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (!isPrivate) return { readable: true, reason: `${where} is public` };
    if (!login) {
      return {
        readable: false,
        reason: `${where} is private and no account of yours there is known`,
      };
    }
    try {
      const { data } = await octokit.repos.getCollaboratorPermissionLevel({
        owner,
        repo,
        username: login,
      });
      return data.permission !== 'none'
        ? { readable: true, reason: `${login} may read ${where}` }
        : { readable: false, reason: `${login} may not read ${where}` };
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return {
        readable: false,
        reason: `${where} is private and ${login} is not a collaborator`,
      };
    }
  }
}

function ownerAndRepo(repository: ParsedRepositoryUrl) {
  const [owner, repo, ...rest] = repository.path.split('/');
  if (!owner || !repo || rest.length > 0) {
    throw new Error(
      `${repository.path} is not a GitHub repository path (owner/repo)`,
    );
  }
  return { owner, repo };
}

/**
 * The Git host clients of `integrations.gitlab` and `integrations.github`, by
 * repository host. GitHub credentials come from Backstage's credentials provider
 * (a token or a GitHub App installation).
 */
export class GitHosts {
  private readonly clients = new Map<string, GitHostClient>();
  private readonly githubCredentials: DefaultGithubCredentialsProvider;

  static fromConfig(config: Config): GitHosts {
    return new GitHosts(ScmIntegrations.fromConfig(config));
  }

  private constructor(private readonly integrations: ScmIntegrations) {
    this.githubCredentials =
      DefaultGithubCredentialsProvider.fromIntegrations(integrations);
  }

  /** The client for a Git repository's host, or undefined when it is not configured. */
  for(repository: ParsedRepositoryUrl): GitHostClient | undefined {
    if (repository.kind !== 'git') return undefined;
    // Only configured hosts are kept: hosts named by clusters must not grow the map.
    let client = this.clients.get(repository.host);
    if (!client) {
      client = this.make(repository.host);
      if (client) this.clients.set(repository.host, client);
    }
    return client;
  }

  private make(host: string): GitHostClient | undefined {
    const gitlab = gitlabApiFor(this.integrations, host);
    if (gitlab) return new GitLabHostClient(gitlab);
    const github = this.integrations.github.byHost(host)?.config;
    if (!github) return undefined;
    return new GitHubHostClient(async repository => {
      // The credentials provider picks a token (or App installation) by this URL.
      const url = new URL(`https://${github.host}`);
      url.pathname = `/${repository.path}`;
      const { token } = await this.githubCredentials.getCredentials({
        url: url.href,
      });
      return githubClient({ token, baseUrl: github.apiBaseUrl });
    });
  }
}
