import { randomBytes } from 'node:crypto';
import { commitDirectory, commitFiles, FileEdits } from '../git';
import { ApiError, badRequest, validationError } from './api';
import type { GitLab } from './context';
import { digestToken, generateToken } from './secrets';
import {
  AccessLevel,
  BotResource,
  DeployToken,
  Namespace,
  PersonalAccessToken,
  Project,
  User,
  Visibility,
} from './state';

/** GitLab's rule for user, group and project paths. */
const PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A new access token's lifetime when none is given (GitLab's maximum, 365 days). */
export const DEFAULT_TOKEN_LIFETIME_DAYS = 365;
/** A rotated token's lifetime when none is given. */
const ROTATED_TOKEN_LIFETIME_DAYS = 7;

function assertPath(field: string, path: string): void {
  if (!PATH.test(path) || path.endsWith('.git') || path.endsWith('.atom')) {
    throw validationError({ [field]: ['is invalid'] });
  }
}

export interface NewUser {
  username: string;
  name?: string;
  email?: string;
  admin?: boolean;
  /** A machine user that only acts through tokens (never signs in interactively). */
  serviceAccount?: boolean;
}

export function createUser(gitlab: GitLab, input: NewUser, bot = false): User {
  const { state, clock } = gitlab;
  assertPath('username', input.username);
  if (
    state.userByUsername(input.username) ||
    (!bot && state.namespaceByPath(input.username))
  ) {
    throw validationError({ username: ['has already been taken'] });
  }
  const user: User = {
    id: state.nextId('user'),
    username: input.username,
    name: input.name ?? input.username,
    email: input.email ?? `${input.username}@example.com`,
    admin: input.admin ?? false,
    bot,
    serviceAccount: input.serviceAccount ?? false,
    createdAt: clock.now(),
  };
  if (!bot) {
    const namespace: Namespace = {
      id: state.nextId('namespace'),
      kind: 'user',
      path: user.username,
      name: user.name,
      visibility: 'public',
      description: '',
      createdAt: clock.now(),
      ownerId: user.id,
    };
    state.namespaces.set(namespace.id, namespace);
    user.namespaceId = namespace.id;
  }
  state.users.set(user.id, user);
  return user;
}

export interface NewGroup {
  path: string;
  name?: string;
  parent?: Namespace;
  visibility?: Visibility;
  description?: string;
  /** Becomes the group's Owner. */
  owner?: User;
}

export function createGroup(gitlab: GitLab, input: NewGroup): Namespace {
  const { state, clock } = gitlab;
  assertPath('path', input.path);
  const fullPath = input.parent
    ? `${state.fullPath(input.parent)}/${input.path}`
    : input.path;
  if (state.namespaceByPath(fullPath)) {
    throw validationError({ path: ['has already been taken'] });
  }
  const group: Namespace = {
    id: state.nextId('namespace'),
    kind: 'group',
    path: input.path,
    name: input.name ?? input.path,
    parentId: input.parent?.id,
    visibility: input.visibility ?? 'private',
    description: input.description ?? '',
    createdAt: clock.now(),
  };
  state.namespaces.set(group.id, group);
  if (input.owner) {
    state.setMember(`namespace:${group.id}`, input.owner.id, AccessLevel.Owner);
  }
  return group;
}

export interface NewProject {
  namespace: Namespace;
  creator: User;
  name?: string;
  path?: string;
  visibility?: Visibility;
  description?: string;
  defaultBranch?: string;
  /** Commit a README.md, as the "Initialize repository with a README" option does. */
  initializeWithReadme?: boolean;
  /** Files of the initial commit. */
  files?: FileEdits;
  /** A directory whose content is the initial commit. */
  directory?: string;
}

function pathFromName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
}

/** Creates a project and its bare repository, with an optional initial commit. */
export async function createProject(
  gitlab: GitLab,
  input: NewProject,
): Promise<Project> {
  const { state, clock } = gitlab;
  const path = input.path ?? pathFromName(input.name ?? '');
  const name = input.name ?? path;
  if (!path) {
    throw new ApiError(400, {
      error: 'name, path are missing, at least one parameter must be provided',
    });
  }
  assertPath('path', path);
  const fullPath = `${state.fullPath(input.namespace)}/${path}`;
  const taken = [...state.projects.values()].filter(
    p => p.namespaceId === input.namespace.id,
  );
  const errors: Record<string, string[]> = {};
  if (taken.some(p => p.name.toLowerCase() === name.toLowerCase())) {
    errors.name = ['has already been taken'];
  }
  if (
    taken.some(p => p.path.toLowerCase() === path.toLowerCase()) ||
    state.namespaceByPath(fullPath)
  ) {
    errors.path = ['has already been taken'];
  }
  if (Object.keys(errors).length > 0) {
    throw validationError(errors);
  }
  const defaultBranch = input.defaultBranch ?? 'main';
  const repository = await gitlab.git.createRepository(`${fullPath}.git`, {
    defaultBranch,
  });
  const now = clock.now();
  const project: Project = {
    id: state.nextId('project'),
    name,
    path,
    namespaceId: input.namespace.id,
    visibility: input.visibility ?? 'private',
    description: input.description ?? '',
    createdAt: now,
    lastActivityAt: now,
    creatorId: input.creator.id,
    defaultBranch,
    emptyRepo: true,
    repository,
  };
  state.projects.set(project.id, project);
  if (state.projectAccess(input.creator, project) < AccessLevel.Maintainer) {
    state.setMember(
      `project:${project.id}`,
      input.creator.id,
      AccessLevel.Maintainer,
    );
  }
  const author = { name: input.creator.name, email: input.creator.email };
  const options = { pusher: input.creator.username, date: now };
  if (input.directory) {
    await commitDirectory(
      repository,
      defaultBranch,
      input.directory,
      'Initial commit',
      author,
      options,
    );
  } else if (input.files && Object.keys(input.files).length > 0) {
    await commitFiles(
      repository,
      defaultBranch,
      input.files,
      'Initial commit',
      author,
      options,
    );
  } else if (input.initializeWithReadme) {
    await commitFiles(
      repository,
      defaultBranch,
      { 'README.md': `# ${name}\n\n${input.description ?? ''}\n` },
      'Initial commit',
      author,
      options,
    );
  }
  project.emptyRepo = (await repository.refs()).size === 0;
  return project;
}

export interface NewAccessToken {
  name: string;
  scopes: string[];
  /** `YYYY-MM-DD`; undefined gives the default lifetime, null never expires. */
  expiresAt?: string | null;
  description?: string;
}

function storeToken(
  gitlab: GitLab,
  userId: number,
  input: NewAccessToken,
  prefix = 'glpat-',
): { record: PersonalAccessToken; value: string } {
  const { state, clock } = gitlab;
  const value = generateToken(prefix);
  const record: PersonalAccessToken = {
    id: state.nextId('personal_access_token'),
    userId,
    name: input.name,
    description: input.description ?? null,
    scopes: [...input.scopes],
    createdAt: clock.now(),
    expiresAt:
      input.expiresAt === undefined
        ? clock.daysFromToday(DEFAULT_TOKEN_LIFETIME_DAYS)
        : input.expiresAt,
    revoked: false,
    lastUsedAt: null,
    digest: digestToken(value),
  };
  state.personalAccessTokens.set(record.id, record);
  return { record, value };
}

export function createPersonalAccessToken(
  gitlab: GitLab,
  user: User,
  input: NewAccessToken,
): { record: PersonalAccessToken; value: string } {
  return storeToken(gitlab, user.id, input);
}

/**
 * A project or group access token: a new bot user, member of the resource with the
 * token's access level, owning one personal access token.
 */
export function createResourceAccessToken(
  gitlab: GitLab,
  resource: BotResource,
  accessLevel: number,
  input: NewAccessToken,
): { record: PersonalAccessToken; value: string; bot: User } {
  const { state } = gitlab;
  const suffix = randomBytes(16).toString('hex');
  const bot = createUser(
    gitlab,
    {
      username: `${resource.kind}_${resource.id}_bot_${suffix}`,
      name: input.name,
      email: `${resource.kind}_${resource.id}_bot_${suffix}@noreply.${
        new URL(gitlab.url()).hostname
      }`,
    },
    true,
  );
  state.botResources.set(bot.id, resource);
  state.setMember(
    resource.kind === 'project'
      ? `project:${resource.id}`
      : `namespace:${resource.id}`,
    bot.id,
    accessLevel,
  );
  return { ...storeToken(gitlab, bot.id, input), bot };
}

/**
 * Replaces a token by a new one with the same name and scopes; the old one is revoked
 * at once. `expiresAt` defaults to one week from today.
 */
export function rotateToken(
  gitlab: GitLab,
  token: PersonalAccessToken,
  expiresAt?: string,
): { record: PersonalAccessToken; value: string } {
  if (token.revoked) {
    throw badRequest('token already revoked');
  }
  token.revoked = true;
  return storeToken(gitlab, token.userId, {
    name: token.name,
    scopes: token.scopes,
    description: token.description ?? undefined,
    expiresAt:
      expiresAt ?? gitlab.clock.daysFromToday(ROTATED_TOKEN_LIFETIME_DAYS),
  });
}

export interface NewDeployToken {
  name: string;
  scopes: string[];
  username?: string;
  expiresAt?: Date;
}

export function createDeployToken(
  gitlab: GitLab,
  owner: { projectId: number } | { groupId: number },
  input: NewDeployToken,
): { record: DeployToken; value: string } {
  const { state, clock } = gitlab;
  if (input.scopes.length === 0) {
    throw validationError({ scopes: ["can't be blank"] });
  }
  if (
    input.username !== undefined &&
    !/^[A-Za-z0-9.+_-]+$/.test(input.username)
  ) {
    throw validationError({ username: ['contains invalid characters'] });
  }
  const id = state.nextId('deploy_token');
  const value = generateToken('gldt-');
  const record: DeployToken = {
    id,
    name: input.name,
    username: input.username ?? `gitlab+deploy-token-${id}`,
    scopes: [...input.scopes],
    expiresAt: input.expiresAt ?? null,
    revoked: false,
    createdAt: clock.now(),
    digest: digestToken(value),
    ...owner,
  };
  state.deployTokens.set(id, record);
  return { record, value };
}
