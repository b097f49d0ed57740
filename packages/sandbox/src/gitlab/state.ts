import type { GitRepository } from '../git';

export type Visibility = 'private' | 'internal' | 'public';

/** GitLab's role levels. */
export const AccessLevel = {
  NoAccess: 0,
  Minimal: 5,
  Guest: 10,
  Reporter: 20,
  Developer: 30,
  Maintainer: 40,
  Owner: 50,
} as const;

export interface User {
  id: number;
  username: string;
  name: string;
  email: string;
  admin: boolean;
  /** Project and group access tokens act as bot users that are members of one resource. */
  bot: boolean;
  createdAt: Date;
  /** The personal namespace (bots have none). */
  namespaceId?: number;
  /**
   * A service account (GitLab's machine users for automation): it acts through tokens
   * only and never signs in interactively, so the OAuth sign-in page does not offer it.
   */
  serviceAccount: boolean;
}

export interface Namespace {
  id: number;
  kind: 'user' | 'group';
  path: string;
  name: string;
  parentId?: number;
  visibility: Visibility;
  description: string;
  createdAt: Date;
  /** For a user namespace: its owner. */
  ownerId?: number;
}

export interface Project {
  id: number;
  name: string;
  path: string;
  namespaceId: number;
  visibility: Visibility;
  description: string;
  createdAt: Date;
  lastActivityAt: Date;
  creatorId: number;
  /** Kept in step with the repository's HEAD. */
  defaultBranch: string;
  emptyRepo: boolean;
  repository: GitRepository;
}

/** A personal access token; project and group access tokens are those of bot users. */
export interface PersonalAccessToken {
  id: number;
  userId: number;
  name: string;
  description: string | null;
  scopes: string[];
  createdAt: Date;
  /** `YYYY-MM-DD`; the token stops working at the start of that day (UTC). */
  expiresAt: string | null;
  revoked: boolean;
  lastUsedAt: Date | null;
  digest: Buffer;
}

export interface DeployToken {
  id: number;
  name: string;
  username: string;
  scopes: string[];
  expiresAt: Date | null;
  revoked: boolean;
  createdAt: Date;
  digest: Buffer;
  projectId?: number;
  groupId?: number;
}

export interface DeployKey {
  id: number;
  title: string;
  key: string;
  fingerprint: string;
  fingerprintSha256: string;
  createdAt: Date;
}

export interface ProjectHook {
  id: number;
  uuid: string;
  projectId: number;
  url: string;
  token?: string;
  name: string;
  description: string;
  pushEvents: boolean;
  tagPushEvents: boolean;
  pushEventsBranchFilter: string;
  branchFilterStrategy: 'wildcard' | 'regex' | 'all_branches';
  enableSslVerification: boolean;
  /** Events this sandbox records but never sends (no issues, merge requests...). */
  otherEvents: Record<string, boolean>;
  createdAt: Date;
}

export type CommitStatusState =
  | 'created'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled';

export interface CommitStatus {
  id: number;
  projectId: number;
  pipelineId: number;
  sha: string;
  ref: string;
  name: string;
  status: CommitStatusState;
  description: string | null;
  targetUrl: string | null;
  coverage: number | null;
  authorId: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * An OAuth application (`Doorkeeper::Application`): the client id is its `uid`, the
 * secret is kept only as a digest, as GitLab stores application secrets hashed.
 */
export interface OAuthApplication {
  id: number;
  /** `application_id` / `client_id`: 64 hex characters. */
  uid: string;
  name: string;
  /** Each redirect URI the application may ask for, compared exactly. */
  redirectUris: string[];
  scopes: string[];
  /** A confidential client authenticates with its secret; a public one may not (PKCE). */
  confidential: boolean;
  createdAt: Date;
  digest: Buffer;
}

/** An authorization code (`Doorkeeper::AccessGrant`): used once, within 10 minutes. */
export interface OAuthAccessGrant {
  id: number;
  applicationId: number;
  userId: number;
  redirectUri: string;
  scopes: string[];
  createdAt: Date;
  expiresInSeconds: number;
  /** Set when the code is exchanged (or revoked): a second exchange is refused. */
  revoked: boolean;
  codeChallenge?: string;
  codeChallengeMethod?: 'plain' | 'S256';
  digest: Buffer;
}

/** An OAuth access token with its refresh token (`Doorkeeper::AccessToken`). */
export interface OAuthAccessToken {
  id: number;
  applicationId: number;
  userId: number;
  scopes: string[];
  createdAt: Date;
  expiresInSeconds: number;
  /** A refreshed or revoked token; its refresh token cannot be used again either. */
  revoked: boolean;
  lastUsedAt: Date | null;
  digest: Buffer;
  refreshDigest: Buffer;
}

/** What a project or group a bot user was made for (its access token's resource). */
export interface BotResource {
  kind: 'project' | 'group';
  id: number;
}

/** Everything the simulated GitLab instance knows, in memory. */
export class GitLabState {
  readonly users = new Map<number, User>();
  readonly namespaces = new Map<number, Namespace>();
  readonly projects = new Map<number, Project>();
  /** `project:<id>` or `namespace:<id>` → user id → access level. */
  readonly members = new Map<string, Map<number, number>>();
  readonly personalAccessTokens = new Map<number, PersonalAccessToken>();
  readonly botResources = new Map<number, BotResource>();
  readonly deployTokens = new Map<number, DeployToken>();
  readonly oauthApplications = new Map<number, OAuthApplication>();
  readonly oauthAccessGrants = new Map<number, OAuthAccessGrant>();
  readonly oauthAccessTokens = new Map<number, OAuthAccessToken>();
  readonly deployKeys = new Map<number, DeployKey>();
  /** project id → deploy key id → can_push. */
  readonly deployKeyLinks = new Map<number, Map<number, boolean>>();
  readonly hooks = new Map<number, ProjectHook>();
  readonly commitStatuses = new Map<number, CommitStatus>();
  /** `<project id>:<sha>:<ref>` → pipeline id (one external pipeline per commit and ref). */
  readonly pipelines = new Map<string, number>();
  readonly #sequences = new Map<string, number>();

  nextId(kind: string): number {
    const next = (this.#sequences.get(kind) ?? 0) + 1;
    this.#sequences.set(kind, next);
    return next;
  }

  userByUsername(username: string): User | undefined {
    const wanted = username.toLowerCase();
    return [...this.users.values()].find(
      u => u.username.toLowerCase() === wanted,
    );
  }

  fullPath(namespace: Namespace): string {
    const parent =
      namespace.parentId !== undefined
        ? this.namespaces.get(namespace.parentId)
        : undefined;
    return parent
      ? `${this.fullPath(parent)}/${namespace.path}`
      : namespace.path;
  }

  fullName(namespace: Namespace): string {
    const parent =
      namespace.parentId !== undefined
        ? this.namespaces.get(namespace.parentId)
        : undefined;
    return parent
      ? `${this.fullName(parent)} / ${namespace.name}`
      : namespace.name;
  }

  namespaceByPath(fullPath: string): Namespace | undefined {
    const wanted = fullPath.toLowerCase();
    return [...this.namespaces.values()].find(
      n => this.fullPath(n).toLowerCase() === wanted,
    );
  }

  /** A group by numeric id or full path (user namespaces are not groups). */
  group(idOrPath: string): Namespace | undefined {
    const namespace = /^\d+$/.test(idOrPath)
      ? this.namespaces.get(Number(idOrPath))
      : this.namespaceByPath(idOrPath);
    return namespace?.kind === 'group' ? namespace : undefined;
  }

  projectPath(project: Project): string {
    return `${this.fullPath(this.namespace(project))}/${project.path}`;
  }

  namespace(project: Project): Namespace {
    const namespace = this.namespaces.get(project.namespaceId);
    if (!namespace) {
      throw new Error(`Project ${project.id} has no namespace`);
    }
    return namespace;
  }

  /** A project by numeric id or full path (`group/sub/app`). */
  project(idOrPath: string): Project | undefined {
    if (/^\d+$/.test(idOrPath)) {
      return this.projects.get(Number(idOrPath));
    }
    const wanted = idOrPath.toLowerCase();
    return [...this.projects.values()].find(
      p => this.projectPath(p).toLowerCase() === wanted,
    );
  }

  projectByRepository(relativePath: string): Project | undefined {
    return [...this.projects.values()].find(
      p => p.repository.relativePath === relativePath,
    );
  }

  /** The namespace and its ancestors, nearest first. */
  ancestry(namespace: Namespace): Namespace[] {
    const chain: Namespace[] = [];
    for (
      let current: Namespace | undefined = namespace;
      current;
      current =
        current.parentId !== undefined
          ? this.namespaces.get(current.parentId)
          : undefined
    ) {
      chain.push(current);
    }
    return chain;
  }

  setMember(key: string, userId: number, level: number): void {
    const members = this.members.get(key) ?? new Map<number, number>();
    members.set(userId, level);
    this.members.set(key, members);
  }

  /** The user's role in a group, inherited from ancestor groups; an admin's is Owner. */
  groupAccess(user: User | undefined, group: Namespace): number {
    if (!user) {
      return AccessLevel.NoAccess;
    }
    if (user.admin) {
      return AccessLevel.Owner;
    }
    let level: number = AccessLevel.NoAccess;
    for (const namespace of this.ancestry(group)) {
      if (namespace.kind === 'user' && namespace.ownerId === user.id) {
        level = Math.max(level, AccessLevel.Owner);
      }
      level = Math.max(
        level,
        this.members.get(`namespace:${namespace.id}`)?.get(user.id) ?? 0,
      );
    }
    return level;
  }

  /** The user's role in a project: direct membership or inherited from its namespace. */
  projectAccess(user: User | undefined, project: Project): number {
    if (!user) {
      return AccessLevel.NoAccess;
    }
    return user.admin
      ? AccessLevel.Owner
      : this.projectMembership(user, project);
  }

  /**
   * The user's membership of a project as GitLab lists it (`members/all`): its own and
   * its groups'; an administrator is not a member for being one.
   */
  projectMembership(user: User, project: Project): number {
    return Math.max(
      this.groupAccess({ ...user, admin: false }, this.namespace(project)),
      this.members.get(`project:${project.id}`)?.get(user.id) ?? 0,
    );
  }

  /** Projects of a group (and, when asked, of its subgroups). */
  projectsOfGroup(group: Namespace, includeSubgroups: boolean): Project[] {
    return [...this.projects.values()].filter(project => {
      const namespace = this.namespace(project);
      return includeSubgroups
        ? this.ancestry(namespace).some(n => n.id === group.id)
        : namespace.id === group.id;
    });
  }
}
