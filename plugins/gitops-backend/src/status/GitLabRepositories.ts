import { Config } from '@backstage/config';
import { ScmIntegrations } from '@backstage/integration';
import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { z } from 'zod';
import {
  describeGitHostError,
  GitLabApi,
  gitlabApiFor,
} from '../gitHosts/gitlabApi';
import { HeadCommit } from './types';

const DEFAULT_TTL_MS = 30_000;
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

type Api = GitLabApi;

interface Answer {
  value: Promise<unknown>;
  /** When the request was sent. */
  askedAt: number;
  expires: number;
  /** Commits known to be at or behind this answer (branch heads only). */
  explained: Set<string>;
}

/**
 * Reads branch heads and commit distances of delivery repositories hosted on a GitLab
 * configured in `integrations.gitlab`. Answers are kept for a short while so status
 * requests do not hit the Git host each time.
 */
export class GitLabRepositories {
  private readonly apis = new Map<string, Api>();
  private readonly answers = new Map<string, Answer>();

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

  /**
   * The commit at the tip of `branch`. `seenShas` are commits of that branch Flux
   * sources hold: one the kept answer does not explain (a push since it was read)
   * makes it ask again at once, rather than report a source "ahead" of the head
   * until the answer expires. Each such commit causes one new request at most.
   */
  async head(
    repository: ParsedRepositoryUrl,
    branch: string,
    seenShas: ReadonlySet<string> | readonly string[] = [],
  ): Promise<HeadCommit> {
    const key = `head:${repository.normalized}:${branch}`;
    const calledAt = Date.now();
    const seen = [...seenShas];
    const ask = () =>
      this.answer(
        key,
        api => api.Commits.show(repository.path, branch),
        repository,
      );
    let answer = ask();
    let commit = commitSchema.parse(await answer.value);
    const unexplained = seen.some(
      sha => sha !== commit.id && !answer.explained.has(sha),
    );
    // An answer asked for after this call began explains whatever the call has seen.
    if (answer.askedAt < calledAt && unexplained) {
      if (this.answers.get(key) === answer) this.answers.delete(key);
      answer = ask();
      commit = commitSchema.parse(await answer.value);
    }
    seen.forEach(sha => answer.explained.add(sha));
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
    // Only configured hosts are kept: hosts named by clusters must not grow the map.
    let api = this.apis.get(host);
    if (!api) {
      api = gitlabApiFor(this.integrations, host);
      if (api) this.apis.set(host, api);
    }
    return api;
  }

  private cached(
    key: string,
    request: (api: Api) => Promise<unknown>,
    repository: ParsedRepositoryUrl,
  ): Promise<unknown> {
    return this.answer(key, request, repository).value;
  }

  private answer(
    key: string,
    request: (api: Api) => Promise<unknown>,
    repository: ParsedRepositoryUrl,
  ): Answer {
    const now = Date.now();
    const hit = this.answers.get(key);
    if (hit && hit.expires > now) return hit;
    this.prune(now);
    const api = this.api(repository.host);
    const answer = {
      askedAt: now,
      expires: api ? now + this.ttlMs : now,
      explained: new Set<string>(),
    } as Answer;
    answer.value = api
      ? request(api).catch(error => {
          // A failure is not kept: the next request asks again.
          if (this.answers.get(key) === answer) this.answers.delete(key);
          throw new GitHostError(
            `GitLab ${repository.host} answered for ${
              repository.path
            }: ${describeGitHostError(error)}`,
          );
        })
      : Promise.reject(
          new GitHostError(`No GitLab integration for ${repository.host}`),
        );
    this.answers.set(key, answer);
    return answer;
  }

  private prune(now: number) {
    for (const [key, entry] of this.answers) {
      if (entry.expires <= now || this.answers.size > MAX_ENTRIES) {
        this.answers.delete(key);
      }
    }
  }
}
