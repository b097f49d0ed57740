import { createHash } from 'node:crypto';
import { commitFiles, FileEdits, GitCommit, ZERO_SHA } from '../../git';
import {
  ApiError,
  notFound,
  paginate,
  Params,
  RequestContext,
  Router,
} from '../api';
import {
  findProjectWithAccess,
  findProjectWithCode,
  GitLab,
  requireCaller,
} from '../context';
import { branchEntity, commitEntity } from '../entities';
import { AccessLevel, Project } from '../state';

const BRANCH_NAME =
  /^(?!\/|.*(?:\/\.|\/\/|\.\.|@\{|\\|\.lock$|\.lock\/))[^\0-\x20~^:?*[\x7f]+(?<![/.])$/;

const ACTIONS = ['create', 'update', 'delete', 'move'] as const;

interface CommitAction {
  action: (typeof ACTIONS)[number];
  filePath: string;
  previousPath?: string;
  content?: Buffer;
}

function badMessage(message: string): ApiError {
  return new ApiError(400, { message });
}

async function detailedCommit(
  gitlab: GitLab,
  project: Project,
  commit: GitCommit,
) {
  return {
    ...commitEntity(gitlab, project, commit),
    stats: await project.repository.stats(commit.sha),
    status: null,
    project_id: project.id,
    last_pipeline: null,
  };
}

/** The `actions` of a commit request, validated like GitLab's `requires :actions` block. */
function parseActions(input: unknown): CommitAction[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ApiError(400, { error: 'actions is missing' });
  }
  return input.map((raw, index) => {
    const item = (raw ?? {}) as Record<string, unknown>;
    const field = (name: string) => `actions[${index}][${name}]`;
    if (!ACTIONS.includes(item.action as CommitAction['action'])) {
      throw new ApiError(400, {
        error: `${field('action')} does not have a valid value`,
      });
    }
    if (typeof item.file_path !== 'string' || item.file_path === '') {
      throw new ApiError(400, { error: `${field('file_path')} is missing` });
    }
    const encoding = item.encoding ?? 'text';
    if (encoding !== 'text' && encoding !== 'base64') {
      throw new ApiError(400, {
        error: `${field('encoding')} does not have a valid value`,
      });
    }
    const content =
      typeof item.content === 'string'
        ? Buffer.from(item.content, encoding === 'base64' ? 'base64' : 'utf8')
        : undefined;
    if (item.action === 'move' && typeof item.previous_path !== 'string') {
      throw new ApiError(400, {
        error: `${field('previous_path')} is missing`,
      });
    }
    return {
      action: item.action as CommitAction['action'],
      filePath: item.file_path,
      previousPath:
        typeof item.previous_path === 'string' ? item.previous_path : undefined,
      content,
    };
  });
}

/** Turns actions into file edits, refusing them where GitLab would (files present or not). */
async function actionsToEdits(
  project: Project,
  base: string | undefined,
  actions: CommitAction[],
): Promise<FileEdits> {
  const read = (path: string) =>
    base ? project.repository.readFile(base, path) : Promise.resolve(undefined);
  const edits: FileEdits = {};
  for (const action of actions) {
    const current = await read(action.filePath);
    switch (action.action) {
      case 'create':
        if (current) {
          throw badMessage('A file with this name already exists');
        }
        edits[action.filePath] = action.content ?? '';
        break;
      case 'update':
        if (!current) {
          throw badMessage("A file with this name doesn't exist");
        }
        edits[action.filePath] = action.content ?? '';
        break;
      case 'delete':
        if (!current) {
          throw badMessage("A file with this name doesn't exist");
        }
        edits[action.filePath] = null;
        break;
      default: {
        const previous = await read(action.previousPath!);
        if (!previous) {
          throw badMessage("A file with this name doesn't exist");
        }
        if (current) {
          throw badMessage('A file with this name already exists');
        }
        edits[action.previousPath!] = null;
        edits[action.filePath] = action.content ?? previous;
      }
    }
  }
  return edits;
}

/** The commit `ref` names in the project, or the default branch's tip when it is absent. */
async function resolveRef(
  project: Project,
  ref: string | undefined,
): Promise<string | undefined> {
  if (ref?.startsWith('-')) {
    return undefined;
  }
  return project.repository.resolveCommit(
    ref ?? `refs/heads/${project.defaultBranch}`,
  );
}

/** Branches, commits, files and compare under `/projects/:id/repository`. */
export function repositoryRoutes(router: Router, gitlab: GitLab): void {
  const { state } = gitlab;
  const canPush = (context: RequestContext, project: Project) =>
    state.projectAccess(context.caller?.user, project) >= AccessLevel.Developer;

  router.get(
    'projects/:id/repository/branches',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const params = new Params(context.input);
      const search = params.string('search')?.toLowerCase();
      params.check();
      const branches = [...(await project.repository.branches())]
        .filter(([name]) => !search || name.toLowerCase().includes(search))
        .sort(([a], [b]) => a.localeCompare(b));
      const entities = await Promise.all(
        branches.map(async ([name, sha]) =>
          branchEntity(
            gitlab,
            project,
            name,
            (await project.repository.commit(sha))!,
            canPush(context, project),
          ),
        ),
      );
      return paginate(context, entities, entity => entity);
    },
    { anonymous: true },
  );

  router.get(
    'projects/:id/repository/branches/:branch',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const sha = (await project.repository.branches()).get(
        context.params.branch,
      );
      if (!sha) {
        throw notFound('Branch');
      }
      const commit = (await project.repository.commit(sha))!;
      return {
        body: branchEntity(
          gitlab,
          project,
          context.params.branch,
          commit,
          canPush(context, project),
        ),
      };
    },
    { anonymous: true },
  );

  router.post('projects/:id/repository/branches', async context => {
    const caller = requireCaller(context);
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Developer,
    );
    const params = new Params(context.input);
    const branch = params.string('branch', { required: true })!;
    const ref = params.string('ref', { required: true })!;
    params.check();
    if (!BRANCH_NAME.test(branch)) {
      throw badMessage('Branch name is invalid');
    }
    const sha = await resolveRef(project, ref);
    if (!sha) {
      throw badMessage('Invalid reference name');
    }
    const repository = project.repository;
    await repository.updateRefs(caller.user.username, async () => {
      if ((await repository.branches()).has(branch)) {
        throw badMessage(`Branch already exists`);
      }
      await repository.git([
        'update-ref',
        `refs/heads/${branch}`,
        sha,
        ZERO_SHA,
      ]);
    });
    const commit = (await repository.commit(sha))!;
    return {
      status: 201,
      body: branchEntity(gitlab, project, branch, commit, true),
    };
  });

  router.get(
    'projects/:id/repository/commits',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const params = new Params(context.input);
      const refName = params.string('ref_name');
      const path = params.string('path');
      const since = params.dateTime('since');
      const until = params.dateTime('until');
      params.check();
      const sha = await resolveRef(project, refName);
      const commits = sha
        ? await project.repository.log([sha], {
            paths: path ? [path] : undefined,
            since,
            until,
          })
        : [];
      return paginate(context, commits, commit =>
        commitEntity(gitlab, project, commit),
      );
    },
    { anonymous: true },
  );

  router.get(
    'projects/:id/repository/commits/:sha',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const sha = await resolveRef(project, context.params.sha);
      const commit = sha ? await project.repository.commit(sha) : undefined;
      if (!commit) {
        throw notFound('Commit');
      }
      return { body: await detailedCommit(gitlab, project, commit) };
    },
    { anonymous: true },
  );

  router.post('projects/:id/repository/commits', async context => {
    const caller = requireCaller(context);
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Developer,
    );
    const params = new Params(context.input);
    const branch = params.string('branch', { required: true })!;
    const message = params.string('commit_message', { required: true })!;
    const startBranch = params.string('start_branch');
    const startSha = params.string('start_sha');
    const authorName = params.string('author_name');
    const authorEmail = params.string('author_email');
    params.check();
    const actions = parseActions(context.input.actions);
    if (!BRANCH_NAME.test(branch)) {
      throw badMessage('Branch name is invalid');
    }
    const repository = project.repository;
    const tip = await repository.resolveCommit(`refs/heads/${branch}`);
    let startPoint: string | undefined;
    if (tip && (startSha || (startBranch && startBranch !== branch))) {
      throw badMessage(
        `A branch called '${branch}' already exists. Switch to that branch in order to make changes`,
      );
    }
    if (!tip) {
      startPoint = startSha
        ? await resolveRef(project, startSha)
        : await repository.resolveCommit(`refs/heads/${startBranch ?? branch}`);
      if ((startBranch || startSha || !project.emptyRepo) && !startPoint) {
        throw badMessage(
          'You can only create or edit files when you are on a branch',
        );
      }
    }
    const edits = await actionsToEdits(project, tip ?? startPoint, actions);
    const user = caller.user;
    const sha = await commitFiles(
      repository,
      branch,
      edits,
      message,
      { name: authorName ?? user.name, email: authorEmail ?? user.email },
      {
        committer: { name: user.name, email: user.email },
        date: gitlab.clock.now(),
        startPoint,
        pusher: user.username,
      },
    );
    project.emptyRepo = false;
    return {
      status: 201,
      body: await detailedCommit(
        gitlab,
        project,
        (await repository.commit(sha))!,
      ),
    };
  });

  router.get(
    'projects/:id/repository/files/:file_path/raw',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const ref = new Params(context.input).string('ref');
      const sha = await resolveRef(project, ref);
      const content = sha
        ? await project.repository.readFile(sha, context.params.file_path)
        : undefined;
      if (!content) {
        throw notFound('File');
      }
      return {
        raw: content,
        contentType: 'text/plain; charset=utf-8',
        headers: {
          'X-Gitlab-File-Name': context.params.file_path.split('/').pop()!,
          'X-Gitlab-File-Path': context.params.file_path,
          'X-Gitlab-Ref': ref ?? project.defaultBranch,
          'X-Gitlab-Size': String(content.length),
          'X-Gitlab-Commit-Id': sha!,
        },
      };
    },
    { anonymous: true, scopes: ['read_api', 'read_repository'] },
  );

  router.get(
    'projects/:id/repository/files/:file_path',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const params = new Params(context.input);
      const ref = params.string('ref', { required: true })!;
      params.check();
      const sha = await resolveRef(project, ref);
      const path = context.params.file_path;
      const content = sha
        ? await project.repository.readFile(sha, path)
        : undefined;
      if (!sha || !content) {
        throw notFound('File');
      }
      const blobId = (
        await project.repository.git(['rev-parse', `${sha}:${path}`])
      )
        .toString()
        .trim();
      const [lastCommit] = await project.repository.log([sha], {
        maxCount: 1,
        paths: [path],
      });
      return {
        body: {
          file_name: path.split('/').pop(),
          file_path: path,
          size: content.length,
          encoding: 'base64',
          content_sha256: createHash('sha256').update(content).digest('hex'),
          ref,
          blob_id: blobId,
          commit_id: sha,
          last_commit_id: lastCommit?.sha ?? sha,
          execute_filemode: false,
          content: content.toString('base64'),
        },
      };
    },
    { anonymous: true, scopes: ['read_api', 'read_repository'] },
  );

  router.get(
    'projects/:id/repository/compare',
    async context => {
      const project = findProjectWithCode(gitlab, context);
      const params = new Params(context.input);
      const from = params.string('from', { required: true })!;
      const to = params.string('to', { required: true })!;
      const straight = params.boolean('straight') ?? false;
      params.check();
      const repository = project.repository;
      const [fromSha, toSha] = [
        await resolveRef(project, from),
        await resolveRef(project, to),
      ];
      if (!fromSha || !toSha) {
        throw notFound('Ref');
      }
      const base = straight
        ? fromSha
        : (await repository.mergeBase(fromSha, toSha)) ?? fromSha;
      const commits = await repository.log([`${base}..${toSha}`], {
        reverse: true,
      });
      const diffs = await repository.diff(base, toSha);
      const latest =
        commits.length > 0 ? commits[commits.length - 1] : undefined;
      return {
        body: {
          commit: latest ? commitEntity(gitlab, project, latest) : null,
          commits: commits.map(c => commitEntity(gitlab, project, c)),
          diffs: diffs.map(d => ({
            old_path: d.oldPath,
            new_path: d.newPath,
            a_mode: d.oldMode,
            b_mode: d.newMode,
            diff: d.patch,
            collapsed: false,
            too_large: false,
            new_file: d.newFile,
            renamed_file: d.renamedFile,
            deleted_file: d.deletedFile,
            generated_file: false,
          })),
          compare_timeout: false,
          compare_same_ref: fromSha === toSha,
          web_url: `${gitlab.url()}/${state.projectPath(
            project,
          )}/-/compare/${from}...${to}`,
        },
      };
    },
    { anonymous: true },
  );
}
