import { Config } from '@backstage/config';
import { stringifyError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { Gitlab } from '@gitbeaker/rest';
import { z } from 'zod';
import { HeadCommit } from './types';

const DEFAULT_TTL_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_ENTRIES = 1_000;

const projectSchema = z.object({ default_branch: z.string().nullish() });
const commitSchema = z.object({
  id: z.string(),
  title: z.string(),
  created_at: z.string(),
  web_url: z.string(),
});
const compareSchema = z.object({ commits: z.array(z.unknown()).default([]) });

/** A Git host answered with an error; the message never carries credentials. */
export class GitHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitHostError';
  }
}

type Api = InstanceType<typeof Gitlab>;

/**
 * Reads branch heads and commit distances of delivery repositories hosted on a GitLab
 * configured in `integrations.gitlab`. Answers are kept for a short while so status
 * requests do not hit the Git host each time.
 */
export class GitLabRepositories {
  private readonly apis = new Map<string, Api | undefined>();
  private readonly answers = new Map<
    string,
    { expires: number; value: Promise<unknown> }
  >();

  static fromConfig(
    config: Config,
    options: { ttlMs?: number } = {},
  ): GitLabRepositories {
    return new GitLabRepositories(
      ScmIntegrations.fromConfig(config),
      options.ttlMs ?? DEFAULT_TTL_MS,
    );
  }

  private constructor(
    private readonly integrations: ScmIntegrations,
    private readonly ttlMs: number,
  ) {}

  /** Whether the repository's host is a configured GitLab. */
  handles(repository: ParsedRepositoryUrl): boolean {
    return repository.kind === 'git' && this.api(repository.host) !== undefined;
  }

  /** The project's default branch. */
  async defaultBranch(repository: ParsedRepositoryUrl): Promise<string> {
    const project = await this.cached(
      `project:${repository.normalized}`,
      api => api.Projects.show(repository.path),
      repository,
    );
    const branch = projectSchema.parse(project).default_branch;
    if (!branch) {
      throw new GitHostError(`${repository.path} has no default branch`);
    }
    return branch;
  }

  /** The commit at the tip of `branch`. */
  async head(
    repository: ParsedRepositoryUrl,
    branch: string,
  ): Promise<HeadCommit> {
    const commit = commitSchema.parse(
      await this.cached(
        `head:${repository.normalized}:${branch}`,
        api => api.Commits.show(repository.path, branch),
        repository,
      ),
    );
    return {
      sha: commit.id,
      title: commit.title,
      createdAt: commit.created_at,
      webUrl: commit.web_url,
    };
  }

  /** How many commits `to` has that `from` has not (GitLab's compare). */
  async commitsBetween(
    repository: ParsedRepositoryUrl,
    from: string,
    to: string,
  ): Promise<number> {
    if (from === to) return 0;
    const comparison = await this.cached(
      `compare:${repository.normalized}:${from}:${to}`,
      api => api.Repositories.compare(repository.path, from, to),
      repository,
    );
    return compareSchema.parse(comparison).commits.length;
  }

  private api(host: string): Api | undefined {
    if (!this.apis.has(host)) {
      const integration = this.integrations.gitlab.byHost(host);
      const config = integration?.config;
      this.apis.set(
        host,
        config
          ? new Gitlab({
              // gitbeaker appends `/api/v4` itself.
              host: config.apiBaseUrl.replace(/\/api\/v4\/?$/, ''),
              token: config.token ?? '',
              queryTimeout: REQUEST_TIMEOUT_MS,
            })
          : undefined,
      );
    }
    return this.apis.get(host);
  }

  private cached(
    key: string,
    request: (api: Api) => Promise<unknown>,
    repository: ParsedRepositoryUrl,
  ): Promise<unknown> {
    const now = Date.now();
    const hit = this.answers.get(key);
    if (hit && hit.expires > now) return hit.value;
    this.prune(now);
    const api = this.api(repository.host);
    if (!api) {
      return Promise.reject(
        new GitHostError(`No GitLab integration for ${repository.host}`),
      );
    }
    const value = request(api).catch(error => {
      // A failure is not kept: the next request asks again.
      this.answers.delete(key);
      throw new GitHostError(
        `GitLab ${repository.host} answered for ${repository.path}: ${describe(
          error,
        )}`,
      );
    });
    this.answers.set(key, { expires: now + this.ttlMs, value });
    return value;
  }

  private prune(now: number) {
    for (const [key, entry] of this.answers) {
      if (entry.expires <= now || this.answers.size > MAX_ENTRIES) {
        this.answers.delete(key);
      }
    }
  }
}

/** gitbeaker errors keep the request (with its token header) in `cause`: only the message is used. */
function describe(error: unknown): string {
  const status = (error as { cause?: { response?: { status?: number } } })
    ?.cause?.response?.status;
  const message =
    error instanceof Error ? error.message : stringifyError(error);
  return status ? `${status} ${message}` : message;
}
