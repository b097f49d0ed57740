import type { GitHost } from '../git';
import { ApiError, Caller, forbidden, notFound, RequestContext } from './api';
import type { Clock } from './clock';
import { AccessLevel, GitLabState, Namespace, Project, User } from './state';
import type { Webhooks } from './webhooks';

/** What every part of the simulated instance shares. */
export interface GitLab {
  state: GitLabState;
  git: GitHost;
  clock: Clock;
  webhooks: Webhooks;
  /** The version `GET /version` reports and hooks send as `User-Agent: GitLab/<version>`. */
  version: string;
  /** `http://127.0.0.1:<port>`, known once the server listens. */
  url(): string;
}

/** A project the user may see: public, internal (any signed-in user) or as a member. */
export function canSeeProject(
  state: GitLabState,
  user: User | undefined,
  project: Project,
): boolean {
  if (project.visibility === 'public') {
    return true;
  }
  if (project.visibility === 'internal' && user && !user.bot) {
    return true;
  }
  return state.projectAccess(user, project) >= AccessLevel.Guest;
}

/** Reading the repository (clone, files, commits) needs Reporter on private projects. */
export function canReadCode(
  state: GitLabState,
  user: User | undefined,
  project: Project,
): boolean {
  if (project.visibility === 'public') {
    return true;
  }
  if (project.visibility === 'internal' && user && !user.bot) {
    return true;
  }
  return state.projectAccess(user, project) >= AccessLevel.Reporter;
}

export function canSeeGroup(
  state: GitLabState,
  user: User | undefined,
  group: Namespace,
): boolean {
  if (group.visibility === 'public') {
    return true;
  }
  if (group.visibility === 'internal' && user && !user.bot) {
    return true;
  }
  return (
    state.groupAccess(user, group) >= AccessLevel.Guest ||
    state
      .projectsOfGroup(group, true)
      .some(p => state.projectAccess(user, p) >= AccessLevel.Guest)
  );
}

/** The `:id` project if the caller may see it; 404 otherwise (its existence is not revealed). */
export function findProject(gitlab: GitLab, context: RequestContext): Project {
  const project = gitlab.state.project(context.params.id);
  if (!project || !canSeeProject(gitlab.state, context.caller?.user, project)) {
    throw notFound('Project');
  }
  return project;
}

/** The `:id` project if the caller has at least `level` in it (404 if unseen, else 403). */
export function findProjectWithAccess(
  gitlab: GitLab,
  context: RequestContext,
  level: number,
): Project {
  const project = findProject(gitlab, context);
  if (gitlab.state.projectAccess(context.caller?.user, project) < level) {
    throw forbidden();
  }
  return project;
}

/** The `:id` project if the caller may read its repository. */
export function findProjectWithCode(
  gitlab: GitLab,
  context: RequestContext,
): Project {
  const project = findProject(gitlab, context);
  if (!canReadCode(gitlab.state, context.caller?.user, project)) {
    throw forbidden();
  }
  return project;
}

export function findGroup(gitlab: GitLab, context: RequestContext): Namespace {
  const group = gitlab.state.group(context.params.id);
  if (!group || !canSeeGroup(gitlab.state, context.caller?.user, group)) {
    throw notFound('Group');
  }
  return group;
}

export function findGroupWithAccess(
  gitlab: GitLab,
  context: RequestContext,
  level: number,
): Namespace {
  const group = findGroup(gitlab, context);
  if (gitlab.state.groupAccess(context.caller?.user, group) < level) {
    throw forbidden();
  }
  return group;
}

/** The caller of a route that requires authentication (the server already ensured it). */
export function requireCaller(context: RequestContext): Caller {
  if (!context.caller) {
    throw new ApiError(401, { message: '401 Unauthorized' });
  }
  return context.caller;
}
