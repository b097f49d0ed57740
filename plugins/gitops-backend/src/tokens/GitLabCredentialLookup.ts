import { ScmIntegrations } from '@backstage/integration';
import {
  ParsedRepositoryUrl,
  TokenRecord,
} from '@backstage-gitops/plugin-gitops-common';
import { z } from 'zod';
import { GitLabApi, gitlabApiFor, gitlabClient } from '../gitHosts/gitlabApi';
import { FoundCredential, sshFingerprintSha256 } from './secretCredentials';

/** What the Git host says a credential is. */
export type HostRecord = Pick<
  TokenRecord,
  | 'kind'
  | 'host'
  | 'hostId'
  | 'owner'
  | 'name'
  | 'username'
  | 'scopes'
  | 'canPush'
  | 'expiresAt'
  | 'createdAt'
>;

/** A GitLab project a credential is used for. */
export interface GitLabProject {
  host: string;
  id: number;
  path: string;
  /** The groups above it, nearest first (`team/sub`, `team`). */
  groups: string[];
}

const projectSchema = z.object({
  id: z.number(),
  path_with_namespace: z.string(),
});
const selfSchema = z.object({
  id: z.number(),
  name: z.string(),
  scopes: z.array(z.string()).optional(),
  expires_at: z.string().nullish(),
  created_at: z.string().nullish(),
  user_id: z.number(),
});
const idList = z.array(z.object({ id: z.number() }).passthrough());
const deployTokens = z.array(
  z.object({
    id: z.number(),
    name: z.string(),
    username: z.string(),
    scopes: z.array(z.string()).default([]),
    expires_at: z.string().nullish(),
    revoked: z.boolean().optional(),
  }),
);
const deployKeys = z.array(
  z.object({
    id: z.number(),
    title: z.string(),
    fingerprint_sha256: z.string().nullish(),
    can_push: z.boolean().optional(),
    created_at: z.string().nullish(),
    expires_at: z.string().nullish(),
  }),
);

function hostName(host: string): string {
  return host.toLowerCase().replace(/:\d+$/, '');
}

const optional = <T>(value: T | null | undefined) => value ?? undefined;

/**
 * Tells what a credential is on a GitLab of `integrations.gitlab`: a token is asked
 * about itself (`GET /personal_access_tokens/self`, with the token) and then placed as a
 * project, group or personal access token with the integration's token; a username is
 * matched to the project's and its groups' deploy tokens; an SSH key to the project's
 * deploy keys by fingerprint. Answers are kept for one inventory round.
 */
export class GitLabCredentialLookup {
  private readonly projects = new Map<
    string,
    Promise<GitLabProject | undefined>
  >();
  private readonly lists = new Map<string, Promise<unknown>>();
  private readonly apis = new Map<string, GitLabApi>();

  constructor(private readonly integrations: ScmIntegrations) {}

  /** The GitLab project a Git URL, or a registry URL on the GitLab's host name, belongs to. */
  projectOf(
    repository: ParsedRepositoryUrl,
  ): Promise<GitLabProject | undefined> {
    const key = repository.normalized;
    if (!this.projects.has(key)) {
      this.projects.set(key, this.findProject(repository));
    }
    return this.projects.get(key)!;
  }

  async identify(
    credential: FoundCredential,
    project: GitLabProject,
  ): Promise<HostRecord | undefined> {
    const api = this.api(project.host)!;
    if (credential.format === 'ssh-key') {
      const fingerprint = sshFingerprintSha256(credential.value);
      const keys = deployKeys.parse(
        await this.list(`keys:${project.id}`, () =>
          api.DeployKeys.all({ projectId: project.id }),
        ),
      );
      const key = keys.find(
        k => fingerprint && k.fingerprint_sha256 === fingerprint,
      );
      return key
        ? {
            kind: 'deploy-key',
            host: project.host,
            hostId: String(key.id),
            owner: { type: 'project', path: project.path },
            name: key.title,
            canPush: key.can_push ?? false,
            createdAt: optional(key.created_at),
            expiresAt: optional(key.expires_at),
          }
        : undefined;
    }
    const self = await this.self(project.host, credential.value);
    if (self) return this.placeAccessToken(api, project, self);
    if (!credential.username) return undefined;
    return this.deployTokenNamed(api, project, credential.username);
  }

  private async placeAccessToken(
    api: GitLabApi,
    project: GitLabProject,
    self: z.infer<typeof selfSchema>,
  ): Promise<HostRecord> {
    const base = {
      host: project.host,
      hostId: String(self.id),
      name: self.name,
      scopes: self.scopes ?? [],
      expiresAt: optional(self.expires_at),
      createdAt: optional(self.created_at),
    };
    const projectTokens = idList.parse(
      await this.list(`pat:${project.id}`, () =>
        api.ProjectAccessTokens.all(project.id),
      ),
    );
    if (projectTokens.some(t => t.id === self.id)) {
      return {
        kind: 'project-access-token',
        ...base,
        owner: { type: 'project', path: project.path },
      };
    }
    for (const group of project.groups) {
      const groupTokens = idList.parse(
        await this.list(`gat:${group}`, () =>
          api.GroupAccessTokens.all(group).catch(() => []),
        ),
      );
      if (groupTokens.some(t => t.id === self.id)) {
        return {
          kind: 'group-access-token',
          ...base,
          owner: { type: 'group', path: group },
        };
      }
    }
    return {
      kind: 'personal-access-token',
      ...base,
      owner: { type: 'user', path: String(self.user_id) },
    };
  }

  private async deployTokenNamed(
    api: GitLabApi,
    project: GitLabProject,
    username: string,
  ): Promise<HostRecord | undefined> {
    const scopes: Array<{
      key: string;
      owner: NonNullable<HostRecord['owner']>;
      load: () => Promise<unknown>;
    }> = [
      {
        key: `dt:project:${project.id}`,
        owner: { type: 'project', path: project.path },
        load: () => api.DeployTokens.all({ projectId: project.id }),
      },
      ...project.groups.map(group => ({
        key: `dt:group:${group}`,
        owner: { type: 'group' as const, path: group },
        load: () => api.DeployTokens.all({ groupId: group }).catch(() => []),
      })),
    ];
    for (const scope of scopes) {
      const tokens = deployTokens.parse(await this.list(scope.key, scope.load));
      const token = tokens.find(t => t.username === username && !t.revoked);
      if (token) {
        return {
          kind: 'deploy-token',
          host: project.host,
          hostId: String(token.id),
          owner: scope.owner,
          name: token.name,
          username: token.username,
          scopes: token.scopes,
          expiresAt: optional(token.expires_at),
        };
      }
    }
    return undefined;
  }

  /** The token's own record, or undefined when GitLab does not know it as an access token. */
  private async self(host: string, token: string) {
    const config = this.integrations.gitlab.byHost(host)!.config;
    const asToken = gitlabClient(config.apiBaseUrl, token);
    try {
      return selfSchema.parse(await asToken.PersonalAccessTokens.show());
    } catch {
      // 401: a deploy token, or a revoked, expired or unknown token.
      return undefined;
    }
  }

  private async findProject(
    repository: ParsedRepositoryUrl,
  ): Promise<GitLabProject | undefined> {
    const integration = this.integrations.gitlab
      .list()
      .find(i => hostName(i.config.host) === hostName(repository.host));
    if (!integration) return undefined;
    const host = integration.config.host;
    const api = this.api(host)!;
    const segments = repository.path.split('/');
    // A registry image may name a path below its project (`group/project/image`).
    for (let length = segments.length; length >= 2; length--) {
      const path = segments.slice(0, length).join('/');
      try {
        const project = projectSchema.parse(await api.Projects.show(path));
        const parts = project.path_with_namespace.split('/');
        const groups = parts
          .slice(0, -1)
          .map((_, i, all) => all.slice(0, all.length - i).join('/'));
        return {
          host,
          id: project.id,
          path: project.path_with_namespace,
          groups,
        };
      } catch {
        // Not a project at this length: try the parent path.
      }
    }
    return undefined;
  }

  private api(host: string): GitLabApi | undefined {
    // Only configured hosts are kept: hosts named by clusters must not grow the map.
    let api = this.apis.get(host);
    if (!api) {
      api = gitlabApiFor(this.integrations, host);
      if (api) this.apis.set(host, api);
    }
    return api;
  }

  private list(key: string, load: () => Promise<unknown>): Promise<unknown> {
    if (!this.lists.has(key)) this.lists.set(key, load());
    return this.lists.get(key)!;
  }
}
