import {
  ApiError,
  notFound,
  paginate,
  Params,
  RequestContext,
  Router,
} from '../api';
import { findProjectWithAccess, GitLab } from '../context';
import { hookEntity } from '../entities';
import { uuid } from '../secrets';
import { AccessLevel, ProjectHook } from '../state';

/** Event switches GitLab hooks have that this sandbox stores but never fires. */
const OTHER_EVENTS = [
  'issues_events',
  'confidential_issues_events',
  'merge_requests_events',
  'note_events',
  'confidential_note_events',
  'job_events',
  'pipeline_events',
  'wiki_page_events',
  'deployment_events',
  'feature_flag_events',
  'releases_events',
  'emoji_events',
  'resource_access_token_events',
  'vulnerability_events',
] as const;

const STRATEGIES = ['wildcard', 'regex', 'all_branches'] as const;

function validUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiError(400, { error: 'url is invalid' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ApiError(400, {
      message: { url: ['is blocked: Only allowed schemes are http, https'] },
    });
  }
}

/** Applies the hook parameters of a POST or PUT onto a hook. */
function applyHookParams(context: RequestContext, hook: ProjectHook): void {
  const params = new Params(context.input);
  const url = params.string('url', { required: true })!;
  const token = params.string('token');
  const name = params.string('name');
  const description = params.string('description');
  const pushEvents = params.boolean('push_events');
  const tagPushEvents = params.boolean('tag_push_events');
  const filter = params.has('push_events_branch_filter')
    ? String(context.input.push_events_branch_filter)
    : undefined;
  const strategy = params.string('branch_filter_strategy', {
    values: STRATEGIES,
  }) as ProjectHook['branchFilterStrategy'] | undefined;
  const ssl = params.boolean('enable_ssl_verification');
  const others = Object.fromEntries(
    OTHER_EVENTS.map(event => [event, params.boolean(event)]),
  );
  params.check();
  validUrl(url);
  const effectiveStrategy = strategy ?? hook.branchFilterStrategy;
  if (effectiveStrategy === 'regex' && filter) {
    try {
      RegExp(filter);
    } catch {
      throw new ApiError(400, {
        message: { push_events_branch_filter: ['not valid RE2 syntax'] },
      });
    }
  }
  hook.url = url;
  hook.token = token ?? hook.token;
  hook.name = name ?? hook.name;
  hook.description = description ?? hook.description;
  hook.pushEvents = pushEvents ?? hook.pushEvents;
  hook.tagPushEvents = tagPushEvents ?? hook.tagPushEvents;
  hook.pushEventsBranchFilter = filter ?? hook.pushEventsBranchFilter;
  hook.branchFilterStrategy = effectiveStrategy;
  hook.enableSslVerification = ssl ?? hook.enableSslVerification;
  for (const [event, value] of Object.entries(others)) {
    if (value !== undefined) {
      hook.otherEvents[event] = value;
    }
  }
}

/** Project hooks: `GET|POST /projects/:id/hooks`, `GET|PUT|DELETE /projects/:id/hooks/:hook_id`. */
export function hookRoutes(router: Router, gitlab: GitLab): void {
  const { state } = gitlab;
  const findHook = (context: RequestContext) => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const hook = state.hooks.get(Number(context.params.hook_id));
    if (!hook || hook.projectId !== project.id) {
      throw notFound('Hook');
    }
    return hook;
  };

  router.get('projects/:id/hooks', context => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const hooks = [...state.hooks.values()].filter(
      h => h.projectId === project.id,
    );
    return paginate(context, hooks, hookEntity);
  });

  router.get('projects/:id/hooks/:hook_id', context => ({
    body: hookEntity(findHook(context)),
  }));

  router.post('projects/:id/hooks', context => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const hook: ProjectHook = {
      id: 0,
      uuid: uuid(),
      projectId: project.id,
      url: '',
      name: '',
      description: '',
      pushEvents: true,
      tagPushEvents: false,
      pushEventsBranchFilter: '',
      branchFilterStrategy: 'wildcard',
      enableSslVerification: true,
      otherEvents: Object.fromEntries(
        OTHER_EVENTS.map(event => [event, false]),
      ),
      createdAt: gitlab.clock.now(),
    };
    applyHookParams(context, hook);
    hook.id = state.nextId('hook');
    state.hooks.set(hook.id, hook);
    return { status: 201, body: hookEntity(hook) };
  });

  router.put('projects/:id/hooks/:hook_id', context => {
    const hook = findHook(context);
    const edited = { ...hook, otherEvents: { ...hook.otherEvents } };
    applyHookParams(context, edited);
    Object.assign(hook, edited);
    return { body: hookEntity(hook) };
  });

  router.delete('projects/:id/hooks/:hook_id', context => {
    state.hooks.delete(findHook(context).id);
    return { status: 204, body: undefined };
  });
}
