import {
  ApiError,
  forbidden,
  notFound,
  paginate,
  Params,
  RequestContext,
  Router,
} from '../api';
import {
  canSeeGroup,
  canSeeProject,
  findGroup,
  GitLab,
  requireCaller,
} from '../context';
import { groupEntity, namespaceEntity, projectEntity } from '../entities';
import { createProject } from '../operations';
import { AccessLevel, Namespace, Project } from '../state';
import { memberRoutes } from './members';

const VISIBILITIES = ['private', 'internal', 'public'] as const;
const ORDERS = [
  'id',
  'name',
  'path',
  'created_at',
  'updated_at',
  'last_activity_at',
] as const;

function sortProjects(
  projects: Project[],
  orderBy: string,
  sort: string,
): Project[] {
  const key = (p: Project): string | number => {
    switch (orderBy) {
      case 'id':
        return p.id;
      case 'name':
        return p.name.toLowerCase();
      case 'path':
        return p.path.toLowerCase();
      case 'updated_at':
      case 'last_activity_at':
        return p.lastActivityAt.getTime();
      default:
        return p.createdAt.getTime();
    }
  };
  const direction = sort === 'asc' ? 1 : -1;
  return [...projects].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (x === y) {
      return (a.id - b.id) * direction;
    }
    return (x < y ? -1 : 1) * direction;
  });
}

/** The filters GitLab's project lists share (`search`, `visibility`, ordering...). */
function listProjects(
  gitlab: GitLab,
  context: RequestContext,
  candidates: Project[],
) {
  const { state } = gitlab;
  const user = context.caller?.user;
  const params = new Params(context.input);
  const search = params.string('search')?.toLowerCase();
  const searchNamespaces = params.boolean('search_namespaces');
  const membership = params.boolean('membership');
  const owned = params.boolean('owned');
  const visibility = params.string('visibility', { values: VISIBILITIES });
  const orderBy = params.string('order_by', { values: ORDERS }) ?? 'created_at';
  const sort = params.string('sort', { values: ['asc', 'desc'] }) ?? 'desc';
  params.check();
  const projects = candidates.filter(project => {
    if (!canSeeProject(state, user, project)) {
      return false;
    }
    if (membership && state.projectAccess(user, project) < AccessLevel.Guest) {
      return false;
    }
    if (owned && state.namespace(project).ownerId !== user?.id) {
      return false;
    }
    if (visibility && project.visibility !== visibility) {
      return false;
    }
    const haystack = searchNamespaces
      ? [state.projectPath(project), project.name]
      : [project.path, project.name];
    return (
      !search || haystack.some(text => text.toLowerCase().includes(search))
    );
  });
  return paginate(context, sortProjects(projects, orderBy, sort), project =>
    projectEntity(gitlab, project, user),
  );
}

function targetNamespace(
  gitlab: GitLab,
  context: RequestContext,
  namespaceId?: string,
): Namespace {
  const { state } = gitlab;
  const user = requireCaller(context).user;
  if (namespaceId === undefined) {
    const own =
      user.namespaceId !== undefined
        ? state.namespaces.get(user.namespaceId)
        : undefined;
    if (!own) {
      throw forbidden();
    }
    return own;
  }
  const namespace = /^\d+$/.test(namespaceId)
    ? state.namespaces.get(Number(namespaceId))
    : state.namespaceByPath(namespaceId);
  if (
    !namespace ||
    (namespace.kind === 'group' && !canSeeGroup(state, user, namespace))
  ) {
    throw notFound('Namespace');
  }
  const allowed =
    namespace.kind === 'user'
      ? namespace.ownerId === user.id || user.admin
      : state.groupAccess(user, namespace) >= AccessLevel.Developer;
  if (!allowed) {
    throw new ApiError(400, { message: { namespace: ['is not valid'] } });
  }
  return namespace;
}

/** Projects (list, show, create), their members, users and groups (list, show, projects). */
export function projectRoutes(router: Router, gitlab: GitLab): void {
  const { state } = gitlab;
  memberRoutes(router, gitlab);

  router.get(
    'projects',
    context => listProjects(gitlab, context, [...state.projects.values()]),
    {
      anonymous: true,
    },
  );

  router.get(
    'projects/:id',
    context => {
      const project = state.project(context.params.id);
      if (!project || !canSeeProject(state, context.caller?.user, project)) {
        throw notFound('Project');
      }
      return { body: projectEntity(gitlab, project, context.caller?.user) };
    },
    { anonymous: true },
  );

  router.post('projects', async context => {
    const caller = requireCaller(context);
    const params = new Params(context.input);
    const name = params.string('name');
    const path = params.string('path');
    const namespaceId = params.string('namespace_id');
    const visibility = params.string('visibility', { values: VISIBILITIES }) as
      | Project['visibility']
      | undefined;
    const description = params.string('description');
    const initializeWithReadme = params.boolean('initialize_with_readme');
    const defaultBranch = params.string('default_branch');
    params.check();
    if (caller.user.bot) {
      throw forbidden();
    }
    const project = await createProject(gitlab, {
      namespace: targetNamespace(gitlab, context, namespaceId),
      creator: caller.user,
      name,
      path,
      visibility,
      description,
      defaultBranch,
      initializeWithReadme,
    });
    return { status: 201, body: projectEntity(gitlab, project, caller.user) };
  });

  router.get(
    'groups',
    context => {
      const params = new Params(context.input);
      const search = params.string('search')?.toLowerCase();
      params.check();
      const groups = [...state.namespaces.values()]
        .filter(
          n =>
            n.kind === 'group' && canSeeGroup(state, context.caller?.user, n),
        )
        .filter(
          n =>
            !search ||
            [n.name, n.path].some(text => text.toLowerCase().includes(search)),
        )
        .sort((a, b) => a.name.localeCompare(b.name));
      return paginate(context, groups, group => groupEntity(gitlab, group));
    },
    { anonymous: true },
  );

  router.get(
    'groups/:id',
    context => {
      const group = findGroup(gitlab, context);
      const projects = state
        .projectsOfGroup(group, false)
        .filter(p => canSeeProject(state, context.caller?.user, p));
      return {
        body: {
          ...groupEntity(gitlab, group),
          projects: projects.map(p =>
            projectEntity(gitlab, p, context.caller?.user),
          ),
          shared_projects: [],
        },
      };
    },
    { anonymous: true },
  );

  // GitLab's namespace lookup (publish:gitlab asks it for the target owner): a group the
  // caller can see, or a user's own namespace (any, for an admin).
  router.get('namespaces/:id', context => {
    const caller = requireCaller(context);
    const id = context.params.id;
    const namespace = /^\d+$/.test(id)
      ? state.namespaces.get(Number(id))
      : state.namespaceByPath(id);
    const visible =
      namespace &&
      (namespace.kind === 'group'
        ? canSeeGroup(state, caller.user, namespace)
        : caller.user.admin || namespace.ownerId === caller.user.id);
    if (!namespace || !visible) {
      throw notFound('Namespace');
    }
    return { body: namespaceEntity(gitlab, namespace) };
  });

  router.get(
    'groups/:id/projects',
    context => {
      const group = findGroup(gitlab, context);
      const includeSubgroups =
        new Params(context.input).boolean('include_subgroups') ?? false;
      return listProjects(
        gitlab,
        context,
        state.projectsOfGroup(group, includeSubgroups),
      );
    },
    { anonymous: true },
  );
}
