import type { GitCommit } from '../git';
import type { GitLab } from './context';
import {
  CommitStatus,
  DeployKey,
  DeployToken,
  Namespace,
  PersonalAccessToken,
  Project,
  ProjectHook,
  User,
} from './state';

/** GitLab's JSON time format (Rails `iso8601(3)`). */
export function time(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** Git's `2024-01-02T03:04:05+02:00` as GitLab shows it: `2024-01-02T03:04:05.000+02:00`. */
function gitTime(iso: string): string {
  return iso.replace(/(T\d{2}:\d{2}:\d{2})([+-]|Z)/, '$1.000$2');
}

export function userBasic(gitlab: GitLab, user: User) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: 'active',
    locked: false,
    avatar_url: null,
    web_url: `${gitlab.url()}/${user.username}`,
  };
}

/** `GET /user`: the caller's own, fuller view of themselves. */
export function currentUser(gitlab: GitLab, user: User) {
  return {
    ...userBasic(gitlab, user),
    created_at: time(user.createdAt),
    bio: '',
    location: '',
    public_email: null,
    linkedin: '',
    twitter: '',
    website_url: '',
    organization: '',
    job_title: '',
    bot: user.bot,
    last_sign_in_at: null,
    confirmed_at: time(user.createdAt),
    last_activity_on: gitlab.clock.today(),
    email: user.email,
    projects_limit: 100000,
    can_create_group: !user.bot,
    can_create_project: !user.bot,
    two_factor_enabled: false,
    external: false,
    private_profile: false,
    commit_email: user.email,
    is_admin: user.admin,
  };
}

export function namespaceEntity(gitlab: GitLab, namespace: Namespace) {
  const fullPath = gitlab.state.fullPath(namespace);
  return {
    id: namespace.id,
    name: namespace.name,
    path: namespace.path,
    kind: namespace.kind,
    full_path: fullPath,
    parent_id: namespace.parentId ?? null,
    avatar_url: null,
    web_url:
      namespace.kind === 'group'
        ? `${gitlab.url()}/groups/${fullPath}`
        : `${gitlab.url()}/${fullPath}`,
  };
}

export function groupEntity(gitlab: GitLab, group: Namespace) {
  return {
    id: group.id,
    web_url: `${gitlab.url()}/groups/${gitlab.state.fullPath(group)}`,
    name: group.name,
    path: group.path,
    description: group.description,
    visibility: group.visibility,
    share_with_group_lock: false,
    require_two_factor_authentication: false,
    project_creation_level: 'developer',
    subgroup_creation_level: 'maintainer',
    lfs_enabled: true,
    default_branch: null,
    request_access_enabled: true,
    full_name: gitlab.state.fullName(group),
    full_path: gitlab.state.fullPath(group),
    created_at: time(group.createdAt),
    parent_id: group.parentId ?? null,
    avatar_url: null,
  };
}

/** The clone URLs GitLab advertises for a project path. */
export function repositoryUrls(gitlab: GitLab, pathWithNamespace: string) {
  const base = new URL(gitlab.url());
  return {
    http: `${gitlab.url()}/${pathWithNamespace}.git`,
    ssh: `git@${base.hostname}:${pathWithNamespace}.git`,
    web: `${gitlab.url()}/${pathWithNamespace}`,
  };
}

export function projectEntity(gitlab: GitLab, project: Project, viewer?: User) {
  const { state } = gitlab;
  const namespace = state.namespace(project);
  const pathWithNamespace = state.projectPath(project);
  const urls = repositoryUrls(gitlab, pathWithNamespace);
  const owner =
    namespace.ownerId !== undefined
      ? state.users.get(namespace.ownerId)
      : undefined;
  const projectAccess = viewer
    ? state.members.get(`project:${project.id}`)?.get(viewer.id)
    : undefined;
  const groupAccess =
    viewer && namespace.kind === 'group'
      ? state.groupAccess(viewer, namespace)
      : 0;
  return {
    id: project.id,
    description: project.description,
    name: project.name,
    name_with_namespace: `${state.fullName(namespace)} / ${project.name}`,
    path: project.path,
    path_with_namespace: pathWithNamespace,
    created_at: time(project.createdAt),
    default_branch: project.defaultBranch,
    tag_list: [],
    topics: [],
    ssh_url_to_repo: urls.ssh,
    http_url_to_repo: urls.http,
    web_url: urls.web,
    readme_url: null,
    forks_count: 0,
    avatar_url: null,
    star_count: 0,
    last_activity_at: time(project.lastActivityAt),
    namespace: namespaceEntity(gitlab, namespace),
    visibility: project.visibility,
    ...(owner ? { owner: userBasic(gitlab, owner) } : {}),
    empty_repo: project.emptyRepo,
    archived: false,
    creator_id: project.creatorId,
    repository_access_level: 'enabled',
    packages_enabled: true,
    container_registry_enabled: true,
    ...(viewer
      ? {
          permissions: {
            project_access: projectAccess
              ? { access_level: projectAccess, notification_level: 3 }
              : null,
            group_access: groupAccess
              ? { access_level: groupAccess, notification_level: 3 }
              : null,
          },
        }
      : {}),
  };
}

export function commitEntity(
  gitlab: GitLab,
  project: Project,
  commit: GitCommit,
) {
  return {
    id: commit.sha,
    short_id: commit.sha.slice(0, 8),
    created_at: gitTime(commit.committedDate),
    parent_ids: commit.parents,
    title: commit.title,
    message: commit.message,
    author_name: commit.authorName,
    author_email: commit.authorEmail,
    authored_date: gitTime(commit.authoredDate),
    committer_name: commit.committerName,
    committer_email: commit.committerEmail,
    committed_date: gitTime(commit.committedDate),
    trailers: {},
    extended_trailers: {},
    web_url: `${gitlab.url()}/${gitlab.state.projectPath(project)}/-/commit/${
      commit.sha
    }`,
  };
}

export function branchEntity(
  gitlab: GitLab,
  project: Project,
  name: string,
  commit: GitCommit,
  canPush: boolean,
) {
  return {
    name,
    commit: commitEntity(gitlab, project, commit),
    merged: false,
    protected: false,
    developers_can_push: false,
    developers_can_merge: false,
    can_push: canPush,
    default: name === project.defaultBranch,
    web_url: `${gitlab.url()}/${gitlab.state.projectPath(
      project,
    )}/-/tree/${name}`,
  };
}

/** A project hook; its secret token is never shown. */
export function hookEntity(hook: ProjectHook) {
  return {
    id: hook.id,
    url: hook.url,
    name: hook.name,
    description: hook.description,
    project_id: hook.projectId,
    created_at: time(hook.createdAt),
    push_events: hook.pushEvents,
    tag_push_events: hook.tagPushEvents,
    push_events_branch_filter: hook.pushEventsBranchFilter,
    branch_filter_strategy: hook.branchFilterStrategy,
    ...hook.otherEvents,
    enable_ssl_verification: hook.enableSslVerification,
    alert_status: 'executable',
    disabled_until: null,
    url_variables: [],
    custom_webhook_template: null,
    custom_headers: [],
  };
}

export function deployTokenEntity(token: DeployToken, now: Date) {
  return {
    id: token.id,
    name: token.name,
    username: token.username,
    expires_at: time(token.expiresAt),
    revoked: token.revoked,
    expired: token.expiresAt !== null && token.expiresAt <= now,
    scopes: token.scopes,
  };
}

export function deployKeyEntity(key: DeployKey, canPush: boolean) {
  return {
    id: key.id,
    title: key.title,
    created_at: time(key.createdAt),
    expires_at: null,
    key: key.key,
    usage_type: 'auth_and_signing',
    fingerprint: key.fingerprint,
    fingerprint_sha256: key.fingerprintSha256,
    can_push: canPush,
  };
}

export function isTokenActive(
  token: PersonalAccessToken,
  today: string,
): boolean {
  return (
    !token.revoked && (token.expiresAt === null || token.expiresAt > today)
  );
}

export function personalAccessTokenEntity(
  token: PersonalAccessToken,
  today: string,
) {
  return {
    id: token.id,
    name: token.name,
    revoked: token.revoked,
    created_at: time(token.createdAt),
    description: token.description,
    scopes: token.scopes,
    user_id: token.userId,
    last_used_at: time(token.lastUsedAt),
    active: isTokenActive(token, today),
    expires_at: token.expiresAt,
  };
}

/** A project or group access token: the bot's token plus its role in the resource. */
export function resourceAccessTokenEntity(
  token: PersonalAccessToken,
  accessLevel: number,
  today: string,
) {
  return {
    ...personalAccessTokenEntity(token, today),
    access_level: accessLevel,
  };
}

export function commitStatusEntity(gitlab: GitLab, status: CommitStatus) {
  const author = gitlab.state.users.get(status.authorId);
  return {
    id: status.id,
    sha: status.sha,
    ref: status.ref,
    status: status.status,
    name: status.name,
    target_url: status.targetUrl,
    description: status.description,
    created_at: time(status.createdAt),
    started_at: time(status.startedAt),
    finished_at: time(status.finishedAt),
    allow_failure: false,
    coverage: status.coverage,
    pipeline_id: status.pipelineId,
    author: author ? userBasic(gitlab, author) : null,
  };
}
