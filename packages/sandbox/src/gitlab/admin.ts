import type { FileEdits, GitRepository } from '../git';
import { commitFiles } from '../git';
import type { RegistryAccessRequest } from '../oci';
import type { GitLab } from './context';
import { repositoryUrls } from './entities';
import type { FailNextOptions, Faults } from './faults';
import { createOAuthApplication } from './oauth';
import {
  createDeployToken,
  createGroup,
  createPersonalAccessToken,
  createProject,
  createResourceAccessToken,
  createUser,
} from './operations';
import type { PushListener } from './push-events';
import { authorizeRegistry } from './registry-auth';
import { AccessLevel, Namespace, Project, User, Visibility } from './state';
import type { HookDelivery } from './webhooks';

export interface UserSummary {
  id: number;
  username: string;
  name: string;
  email: string;
}

export interface GroupSummary {
  id: number;
  path: string;
  fullPath: string;
  name: string;
  visibility: Visibility;
}

export interface ProjectSummary {
  id: number;
  name: string;
  path: string;
  pathWithNamespace: string;
  visibility: Visibility;
  defaultBranch: string;
  /** The Git smart HTTP URL, `http://127.0.0.1:<port>/<path>.git`. */
  httpUrl: string;
  sshUrl: string;
  webUrl: string;
}

export interface CreatedToken {
  id: number;
  /** The secret value; the instance keeps only its hash. */
  token: string;
  /** The user it acts as (a bot user for project and group access tokens). */
  userId: number;
  username: string;
}

/** A registered OAuth application: what its client needs to sign people in. */
export interface OAuthApplicationSummary {
  id: number;
  name: string;
  /** The OAuth `client_id` (GitLab's "Application ID"). */
  clientId: string;
  /** The OAuth `client_secret`; the instance keeps only its hash. */
  clientSecret: string;
  redirectUris: string[];
  scopes: string[];
  confidential: boolean;
}

export interface TokenRequest {
  scopes: string[];
  name?: string;
  /** `YYYY-MM-DD`; default one year from today, null for a token that never expires. */
  expiresAt?: string | null;
  description?: string;
}

/** In-process control of the simulated GitLab, for the demo and tests (not part of its API). */
export class GitLabAdmin {
  constructor(
    private readonly gitlab: GitLab,
    private readonly faults: Faults,
    private readonly pushListeners: Set<PushListener>,
  ) {}

  createUser(input: {
    username: string;
    name?: string;
    email?: string;
    admin?: boolean;
    /** A machine user: tokens only, never offered on the OAuth sign-in page. */
    serviceAccount?: boolean;
  }): UserSummary {
    return this.userSummary(createUser(this.gitlab, input));
  }

  createGroup(input: {
    path: string;
    name?: string;
    /** Full path of the parent group, for a subgroup. */
    parent?: string;
    visibility?: Visibility;
    description?: string;
    /** Username of the group's Owner. */
    owner?: string;
  }): GroupSummary {
    const group = createGroup(this.gitlab, {
      ...input,
      parent: input.parent ? this.groupByPath(input.parent) : undefined,
      owner: input.owner ? this.user(input.owner) : undefined,
    });
    return this.groupSummary(group);
  }

  /**
   * Creates a project (and its bare repository) in a user's or group's namespace, with
   * an initial commit of `files` or of a `directory`'s content when given.
   */
  async createProject(input: {
    /** Full path of the group, or a username for a personal project. */
    namespace: string;
    path: string;
    name?: string;
    visibility?: Visibility;
    description?: string;
    defaultBranch?: string;
    files?: FileEdits;
    directory?: string;
    initializeWithReadme?: boolean;
    /** Username of the creator (made a Maintainer); default the namespace's owner, else `root`. */
    creator?: string;
  }): Promise<ProjectSummary> {
    const { state } = this.gitlab;
    const namespace = state.namespaceByPath(input.namespace);
    if (!namespace) {
      throw new Error(`No user or group "${input.namespace}"`);
    }
    const ownerName =
      namespace.ownerId !== undefined
        ? state.users.get(namespace.ownerId)?.username
        : undefined;
    const project = await createProject(this.gitlab, {
      ...input,
      namespace,
      creator: this.user(input.creator ?? ownerName ?? 'root'),
    });
    return this.projectSummary(project);
  }

  /** Makes a user a member of a project or group with an access level (10..50). */
  addMember(
    target: { project: string } | { group: string },
    username: string,
    accessLevel: number,
  ): void {
    const user = this.user(username);
    const key =
      'project' in target
        ? `project:${this.projectRecord(target.project).id}`
        : `namespace:${this.groupByPath(target.group).id}`;
    this.gitlab.state.setMember(key, user.id, accessLevel);
  }

  createPersonalAccessToken(
    username: string,
    request: TokenRequest,
  ): CreatedToken {
    const user = this.user(username);
    const { record, value } = createPersonalAccessToken(this.gitlab, user, {
      ...request,
      name: request.name ?? 'sandbox',
    });
    return {
      id: record.id,
      token: value,
      userId: user.id,
      username: user.username,
    };
  }

  createProjectAccessToken(
    project: string,
    request: TokenRequest & { accessLevel?: number },
  ): CreatedToken {
    return this.resourceToken(
      { kind: 'project', id: this.projectRecord(project).id },
      request,
    );
  }

  createGroupAccessToken(
    group: string,
    request: TokenRequest & { accessLevel?: number },
  ): CreatedToken {
    return this.resourceToken(
      { kind: 'group', id: this.groupByPath(group).id },
      request,
    );
  }

  createDeployToken(
    target: { project: string } | { group: string },
    request: {
      name: string;
      scopes: string[];
      username?: string;
      expiresAt?: Date;
    },
  ): CreatedToken {
    const owner =
      'project' in target
        ? { projectId: this.projectRecord(target.project).id }
        : { groupId: this.groupByPath(target.group).id };
    const { record, value } = createDeployToken(this.gitlab, owner, request);
    return {
      id: record.id,
      token: value,
      userId: 0,
      username: record.username,
    };
  }

  /**
   * Commits file edits (null deletes) to a branch of a project as a user would push them:
   * project hooks fire exactly as for a `git push`. Returns the new commit's sha.
   */
  async commitFiles(
    project: string,
    input: {
      files: FileEdits;
      message: string;
      branch?: string;
      author?: string;
    },
  ): Promise<string> {
    const record = this.projectRecord(project);
    const user = this.user(input.author ?? 'root');
    const branch = input.branch ?? record.defaultBranch;
    const sha = await commitFiles(
      record.repository,
      branch,
      input.files,
      input.message,
      { name: user.name, email: user.email },
      {
        pusher: user.username,
        date: this.gitlab.clock.now(),
        // A new branch starts from the default branch, as it would in the web editor.
        startPoint:
          branch !== record.defaultBranch && !record.emptyRepo
            ? `refs/heads/${record.defaultBranch}`
            : undefined,
      },
    );
    record.emptyRepo = false;
    return sha;
  }

  /** The bare repository of a project, to read refs, commits and files. */
  repository(project: string): GitRepository {
    return this.projectRecord(project).repository;
  }

  /** A project by numeric id or full path, or undefined. */
  project(idOrPath: string): ProjectSummary | undefined {
    const project = this.gitlab.state.project(idOrPath);
    return project ? this.projectSummary(project) : undefined;
  }

  /**
   * Registers an instance-wide OAuth application (Admin area → Applications), whose
   * client signs people in through `/oauth/authorize` and `/oauth/token`. Each redirect
   * URI is matched exactly.
   */
  createOAuthApplication(input: {
    name: string;
    redirectUris: string[];
    /** Default `read_user`, what a sign-in needs. */
    scopes?: string[];
    /** Default true: the client authenticates with its secret. */
    confidential?: boolean;
  }): OAuthApplicationSummary {
    const { record, secret } = createOAuthApplication(this.gitlab, {
      ...input,
      scopes: input.scopes ?? ['read_user'],
    });
    return {
      id: record.id,
      name: record.name,
      clientId: record.uid,
      clientSecret: secret,
      redirectUris: [...record.redirectUris],
      scopes: [...record.scopes],
      confidential: record.confidential,
    };
  }

  /**
   * Authorizes a container registry request as GitLab's registry authentication would;
   * the sandbox registry's `authorize` callback (`req => gitlab.api.authorizeRegistry(req)`).
   * Anonymous callers pass an empty username and password.
   */
  authorizeRegistry(
    request: RegistryAccessRequest,
  ): boolean | 'unauthenticated' {
    return authorizeRegistry(this.gitlab, request);
  }

  /** Every webhook delivery so far, oldest first. */
  hookDeliveries(): readonly HookDelivery[] {
    return this.gitlab.webhooks.deliveries;
  }

  /** Resolves once every push event and webhook delivery started so far has finished. */
  waitForHooks(): Promise<void> {
    return this.gitlab.webhooks.settled();
  }

  /** Called for every branch or tag push to any project; returns an unsubscribe function. */
  onPush(listener: PushListener): () => void {
    this.pushListeners.add(listener);
    return () => {
      this.pushListeners.delete(listener);
    };
  }

  /** Pins the instance's clock (token expiry, timestamps, commit dates); undefined unpins it. */
  setNow(date: Date | undefined): void {
    this.gitlab.clock.set(date);
  }

  /** The next `count` requests (API by default) answer `status` (5xx, or 429 with Retry-After). */
  failNext(count: number, status: number, options?: FailNextOptions): void {
    this.faults.failNext(count, status, options);
  }

  /** Delays every request by `ms` milliseconds. */
  setLatency(ms: number): void {
    this.faults.setLatency(ms);
  }

  private resourceToken(
    resource: { kind: 'project' | 'group'; id: number },
    request: TokenRequest & { accessLevel?: number },
  ): CreatedToken {
    const { record, value, bot } = createResourceAccessToken(
      this.gitlab,
      resource,
      request.accessLevel ?? AccessLevel.Maintainer,
      { ...request, name: request.name ?? 'sandbox' },
    );
    return {
      id: record.id,
      token: value,
      userId: bot.id,
      username: bot.username,
    };
  }

  private user(username: string): User {
    const user = this.gitlab.state.userByUsername(username);
    if (!user) {
      throw new Error(`No user "${username}"`);
    }
    return user;
  }

  private groupByPath(fullPath: string): Namespace {
    const group = this.gitlab.state.group(fullPath);
    if (!group) {
      throw new Error(`No group "${fullPath}"`);
    }
    return group;
  }

  private projectRecord(idOrPath: string): Project {
    const project = this.gitlab.state.project(idOrPath);
    if (!project) {
      throw new Error(`No project "${idOrPath}"`);
    }
    return project;
  }

  private userSummary(user: User): UserSummary {
    return {
      id: user.id,
      username: user.username,
      name: user.name,
      email: user.email,
    };
  }

  private groupSummary(group: Namespace): GroupSummary {
    return {
      id: group.id,
      path: group.path,
      fullPath: this.gitlab.state.fullPath(group),
      name: group.name,
      visibility: group.visibility,
    };
  }

  private projectSummary(project: Project): ProjectSummary {
    const pathWithNamespace = this.gitlab.state.projectPath(project);
    const urls = repositoryUrls(this.gitlab, pathWithNamespace);
    return {
      id: project.id,
      name: project.name,
      path: project.path,
      pathWithNamespace,
      visibility: project.visibility,
      defaultBranch: project.defaultBranch,
      httpUrl: urls.http,
      sshUrl: urls.ssh,
      webUrl: urls.web,
    };
  }
}
