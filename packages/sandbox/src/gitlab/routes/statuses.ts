import {
  ApiError,
  notFound,
  paginate,
  Params,
  Router,
  validationError,
} from '../api';
import {
  findProjectWithAccess,
  findProjectWithCode,
  GitLab,
  requireCaller,
} from '../context';
import { commitStatusEntity } from '../entities';
import { AccessLevel, CommitStatus, CommitStatusState } from '../state';

const STATES = ['pending', 'running', 'success', 'failed', 'canceled'] as const;

/** GitLab's commit status state machine: which states each event leaves from. */
const TRANSITIONS: Record<
  string,
  { from: CommitStatusState[]; to: CommitStatusState }
> = {
  enqueue: { from: ['created'], to: 'pending' },
  run: { from: ['pending'], to: 'running' },
  success: { from: ['created', 'pending', 'running'], to: 'success' },
  drop: { from: ['created', 'pending', 'running'], to: 'failed' },
  cancel: { from: ['created', 'pending', 'running'], to: 'canceled' },
};

/** Fires a state machine event; `strict` is Ruby's `event!` (raises), otherwise a no-op. */
function fire(
  status: CommitStatus,
  event: string,
  now: Date,
  strict = true,
): void {
  const transition = TRANSITIONS[event];
  if (!transition.from.includes(status.status)) {
    if (strict) {
      throw new ApiError(400, {
        message: `Cannot transition status via :${event} from :${status.status} (Reason(s): Status cannot transition via "${event}")`,
      });
    }
    return;
  }
  status.status = transition.to;
  if (transition.to === 'running') {
    status.startedAt = now;
  }
  if (['success', 'failed', 'canceled'].includes(transition.to)) {
    status.finishedAt = now;
  }
}

function applyState(status: CommitStatus, state: string, now: Date): void {
  switch (state) {
    case 'pending':
      fire(status, 'enqueue', now);
      break;
    case 'running':
      fire(status, 'enqueue', now, false);
      fire(status, 'run', now);
      break;
    case 'success':
      fire(status, 'success', now);
      break;
    case 'failed':
      fire(status, 'drop', now);
      break;
    default:
      fire(status, 'cancel', now);
  }
}

/** `POST /projects/:id/statuses/:sha` and `GET /projects/:id/repository/commits/:sha/statuses`. */
export function statusRoutes(router: Router, gitlab: GitLab): void {
  const { state, clock } = gitlab;

  router.post('projects/:id/statuses/:sha', async context => {
    const caller = requireCaller(context);
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Developer,
    );
    const params = new Params(context.input);
    const wanted = params.string('state', { required: true, values: STATES })!;
    const refParam = params.string('ref');
    const name = params.string('name') ?? params.string('context') ?? 'default';
    const targetUrl = params.string('target_url');
    const description = params.string('description');
    const coverage = params.string('coverage');
    params.check();
    const sha = context.params.sha.startsWith('-')
      ? undefined
      : await project.repository.resolveCommit(context.params.sha);
    if (!sha) {
      throw notFound('Commit');
    }
    const ref =
      refParam ?? (await project.repository.branchesContaining(sha))[0];
    if (!ref) {
      throw notFound('References for commit');
    }
    const errors: Record<string, string[]> = {};
    if (description !== undefined && description.length > 255) {
      errors.description = ['is too long (maximum is 255 characters)'];
    }
    if (targetUrl !== undefined) {
      if (targetUrl.length > 255) {
        errors.target_url = ['is too long (maximum is 255 characters)'];
      } else if (!/^https?:\/\/[^\s]+$/.test(targetUrl)) {
        errors.target_url = [
          'is blocked: Only allowed schemes are http, https',
        ];
      }
    }
    if (coverage !== undefined && Number.isNaN(Number(coverage))) {
      throw new ApiError(400, { error: 'coverage is invalid' });
    }
    if (Object.keys(errors).length > 0) {
      throw validationError(errors);
    }
    const pipelineKey = `${project.id}:${sha}:${ref}`;
    const pipelineId =
      state.pipelines.get(pipelineKey) ?? state.nextId('pipeline');
    state.pipelines.set(pipelineKey, pipelineId);
    // Like GitLab, a pending or running status of the same name is updated; otherwise a new one starts.
    const existing = [...state.commitStatuses.values()].find(
      s =>
        s.pipelineId === pipelineId &&
        s.name === name &&
        s.authorId === caller.user.id &&
        (s.status === 'pending' || s.status === 'running'),
    );
    const now = clock.now();
    const status: CommitStatus = existing
      ? { ...existing }
      : {
          id: 0,
          projectId: project.id,
          pipelineId,
          sha,
          ref,
          name,
          status: 'created',
          description: null,
          targetUrl: null,
          coverage: null,
          authorId: caller.user.id,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
        };
    status.description = description ?? status.description;
    status.targetUrl = targetUrl ?? status.targetUrl;
    status.coverage =
      coverage !== undefined ? Number(coverage) : status.coverage;
    applyState(status, wanted, now);
    status.id = existing?.id ?? state.nextId('commit_status');
    state.commitStatuses.set(status.id, status);
    return { status: 201, body: commitStatusEntity(gitlab, status) };
  });

  router.get('projects/:id/repository/commits/:sha/statuses', async context => {
    const project = findProjectWithCode(gitlab, context);
    const params = new Params(context.input);
    const ref = params.string('ref');
    const name = params.string('name');
    const all = params.boolean('all') ?? false;
    params.check();
    const sha = context.params.sha.startsWith('-')
      ? undefined
      : await project.repository.resolveCommit(context.params.sha);
    if (!sha) {
      throw notFound('Commit');
    }
    let statuses = [...state.commitStatuses.values()]
      .filter(s => s.projectId === project.id && s.sha === sha)
      .sort((a, b) => a.id - b.id);
    if (!all) {
      // Only the latest status of each name in each pipeline (older ones count as retried).
      statuses = statuses.filter(
        s =>
          !statuses.some(
            o =>
              o.pipelineId === s.pipelineId && o.name === s.name && o.id > s.id,
          ),
      );
    }
    statuses = statuses.filter(
      s => (!ref || s.ref === ref) && (!name || s.name === name),
    );
    return paginate(context, statuses, s => commitStatusEntity(gitlab, s));
  });
}
