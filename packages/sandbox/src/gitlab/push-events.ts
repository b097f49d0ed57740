import { GitRepository, RefChange, RefsUpdate, ZERO_SHA } from '../git';
import type { GitLab } from './context';
import { repositoryUrls } from './entities';
import { uuid } from './secrets';
import { Project, ProjectHook, Visibility } from './state';

/** GitLab lists at most this many commits in a push payload (`total_commits_count` has all). */
const PAYLOAD_COMMITS_LIMIT = 20;
/** When a push creates the default branch, GitLab looks at this many of its latest commits. */
const PROCESS_COMMIT_LIMIT = 100;

const VISIBILITY_LEVEL: Record<Visibility, number> = {
  private: 0,
  internal: 10,
  public: 20,
};

/** A push (or tag push) as GitLab describes it to hooks. */
export interface PushNotification {
  projectId: number;
  pathWithNamespace: string;
  /** `Push Hook` or `Tag Push Hook`. */
  event: string;
  payload: PushHookPayload;
}

export type PushListener = (notification: PushNotification) => void;

export interface PushHookCommit {
  id: string;
  message: string;
  title: string;
  timestamp: string;
  url: string;
  author: { name: string; email: string };
  added: string[];
  modified: string[];
  removed: string[];
}

export interface PushHookPayload {
  object_kind: 'push' | 'tag_push';
  event_name: 'push' | 'tag_push';
  before: string;
  after: string;
  ref: string;
  ref_protected: boolean;
  checkout_sha: string | null;
  message: string | null;
  user_id: number | null;
  user_name: string | null;
  user_username: string | null;
  user_email: string | null;
  user_avatar: string | null;
  project_id: number;
  project: Record<string, unknown>;
  commits: PushHookCommit[];
  total_commits_count: number;
  push_options: Record<string, unknown>;
  repository: Record<string, unknown>;
}

/** Whether a hook wants a push to this branch (`push_events_branch_filter`). */
export function matchesBranchFilter(
  hook: ProjectHook,
  branch: string,
): boolean {
  const filter = hook.pushEventsBranchFilter;
  if (hook.branchFilterStrategy === 'all_branches' || !filter) {
    return true;
  }
  if (hook.branchFilterStrategy === 'regex') {
    return new RegExp(filter).test(branch);
  }
  const pattern = filter
    .split('*')
    .map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`).test(branch);
}

/**
 * The commits a branch push is about, oldest first, and how many there are in all,
 * chosen the way GitLab's branch hooks service does.
 */
async function pushedCommits(
  repository: GitRepository,
  project: Project,
  branch: string,
  change: RefChange,
): Promise<{ shas: string[]; total: number }> {
  if (change.after === ZERO_SHA) {
    return { shas: [], total: 0 };
  }
  if (change.before === ZERO_SHA && branch === project.defaultBranch) {
    const latest = await repository.log([change.after], {
      maxCount: PROCESS_COMMIT_LIMIT,
    });
    return {
      shas: latest.map(c => c.sha).reverse(),
      total: await repository.countCommits([change.after]),
    };
  }
  let range = [`${change.before}..${change.after}`];
  if (change.before === ZERO_SHA) {
    const defaultTip = await repository.resolveCommit(
      `refs/heads/${project.defaultBranch}`,
    );
    range = defaultTip ? [change.after, '--not', defaultTip] : [change.after];
  }
  const commits = await repository.log(range, { reverse: true });
  return { shas: commits.map(c => c.sha), total: commits.length };
}

async function payloadCommit(
  gitlab: GitLab,
  repository: GitRepository,
  project: Project,
  sha: string,
): Promise<PushHookCommit> {
  const commit = await repository.commit(sha);
  if (!commit) {
    throw new Error(`Pushed commit ${sha} is missing`);
  }
  return {
    id: commit.sha,
    message: commit.message,
    title: commit.title,
    timestamp: commit.authoredDate,
    url: `${gitlab.url()}/${gitlab.state.projectPath(project)}/-/commit/${
      commit.sha
    }`,
    author: { name: commit.authorName, email: commit.authorEmail },
    ...(await repository.changedFiles(commit.sha)),
  };
}

function projectSection(gitlab: GitLab, project: Project) {
  const pathWithNamespace = gitlab.state.projectPath(project);
  const urls = repositoryUrls(gitlab, pathWithNamespace);
  const namespace = gitlab.state.namespace(project);
  return {
    project: {
      id: project.id,
      name: project.name,
      description: project.description,
      web_url: urls.web,
      avatar_url: null,
      git_ssh_url: urls.ssh,
      git_http_url: urls.http,
      namespace: namespace.name,
      visibility_level: VISIBILITY_LEVEL[project.visibility],
      path_with_namespace: pathWithNamespace,
      default_branch: project.defaultBranch,
      ci_config_path: '',
      homepage: urls.web,
      url: urls.ssh,
      ssh_url: urls.ssh,
      http_url: urls.http,
    },
    repository: {
      name: project.name,
      url: urls.ssh,
      description: project.description,
      homepage: urls.web,
      git_http_url: urls.http,
      git_ssh_url: urls.ssh,
      visibility_level: VISIBILITY_LEVEL[project.visibility],
    },
  };
}

async function buildPayload(
  gitlab: GitLab,
  project: Project,
  change: RefChange,
  pusher: string | undefined,
): Promise<PushHookPayload> {
  const repository = project.repository;
  const isTag = change.ref.startsWith('refs/tags/');
  const deleted = change.after === ZERO_SHA;
  const user = pusher ? gitlab.state.userByUsername(pusher) : undefined;
  let commits: PushHookCommit[] = [];
  let total = 0;
  if (!isTag) {
    const branch = change.ref.slice('refs/heads/'.length);
    const pushed = await pushedCommits(repository, project, branch, change);
    total = pushed.total;
    commits = await Promise.all(
      pushed.shas
        .slice(-PAYLOAD_COMMITS_LIMIT)
        .map(sha => payloadCommit(gitlab, repository, project, sha)),
    );
  }
  const { project: projectData, repository: repositoryData } = projectSection(
    gitlab,
    project,
  );
  return {
    object_kind: isTag ? 'tag_push' : 'push',
    event_name: isTag ? 'tag_push' : 'push',
    before: change.before,
    after: change.after,
    ref: change.ref,
    ref_protected: false,
    checkout_sha: deleted
      ? null
      : (await repository.peel(change.after)) ?? null,
    message:
      isTag && !deleted
        ? (await repository.tagMessage(change.after)) ?? null
        : null,
    user_id: user?.id ?? null,
    user_name: user?.name ?? pusher ?? null,
    user_username: user?.username ?? pusher ?? null,
    user_email: user?.email ?? null,
    user_avatar: null,
    project_id: project.id,
    project: projectData,
    commits,
    total_commits_count: total,
    push_options: {},
    repository: repositoryData,
  };
}

/** Keeps a project's cached repository facts (HEAD branch, emptiness) true after a push. */
async function refreshProject(
  gitlab: GitLab,
  project: Project,
  changes: RefChange[],
) {
  const repository = project.repository;
  const branches = await repository.branches();
  project.emptyRepo = (await repository.refs()).size === 0;
  project.lastActivityAt = gitlab.clock.now();
  if (!branches.has(project.defaultBranch)) {
    // Like GitLab, the first branch pushed to a project without its default branch becomes it.
    const created = changes.find(
      c =>
        c.ref.startsWith('refs/heads/') &&
        c.before === ZERO_SHA &&
        c.after !== ZERO_SHA,
    );
    if (created) {
      project.defaultBranch = created.ref.slice('refs/heads/'.length);
      await repository.setHeadBranch(project.defaultBranch);
    }
  }
}

/**
 * Turns a repository's ref update into GitLab push events: tells in-process listeners
 * and delivers a Push Hook / Tag Push Hook to every project hook that wants it.
 */
export async function processRefsUpdate(
  gitlab: GitLab,
  listeners: ReadonlySet<PushListener>,
  update: RefsUpdate,
): Promise<void> {
  const project = gitlab.state.projectByRepository(
    update.repository.relativePath,
  );
  if (!project) {
    return;
  }
  // The hooks and listeners of the moment of the push (this runs synchronously up to the first await).
  const projectHooks = [...gitlab.state.hooks.values()].filter(
    h => h.projectId === project.id,
  );
  const pushListeners = [...listeners];
  if (update.changes.some(change => change.after !== ZERO_SHA)) {
    project.emptyRepo = false;
  }
  await refreshProject(gitlab, project, update.changes);
  for (const change of update.changes) {
    const isTag = change.ref.startsWith('refs/tags/');
    if (!isTag && !change.ref.startsWith('refs/heads/')) {
      continue;
    }
    const payload = await buildPayload(gitlab, project, change, update.pusher);
    const event = isTag ? 'Tag Push Hook' : 'Push Hook';
    const notification = {
      projectId: project.id,
      pathWithNamespace: gitlab.state.projectPath(project),
      event,
      payload,
    };
    for (const listener of pushListeners) {
      // A failing listener must not keep the hooks from firing.
      try {
        listener(notification);
      } catch (error) {
        process.emitWarning(`Push listener failed: ${error}`);
      }
    }
    const eventUuid = uuid();
    const hooks = projectHooks.filter(hook =>
      isTag
        ? hook.tagPushEvents
        : hook.pushEvents &&
          matchesBranchFilter(hook, change.ref.slice('refs/heads/'.length)),
    );
    for (const hook of hooks) {
      gitlab.webhooks.track(
        gitlab.webhooks.execute(hook, event, eventUuid, change.ref, payload),
      );
    }
  }
}
