import { notFound, Params, Router } from '../api';
import { findProject, GitLab, requireCaller } from '../context';
import { AccessLevel, Project, User } from '../state';

/**
 * Users looked up by username, and a project's members with inherited ones
 * (`/projects/:id/members/all/:user_id`): what a client asks to learn whether a person
 * may read a project.
 */
export function memberRoutes(router: Router, gitlab: GitLab): void {
  const { state } = gitlab;

  const basic = (user: User) => ({
    id: user.id,
    username: user.username,
    name: user.name,
    state: 'active',
    locked: false,
    avatar_url: null,
    web_url: `${gitlab.url()}/${user.username}`,
  });

  // Membership as GitLab lists it: the project's own members and those of the groups
  // above it; an administrator is not a member for being one.
  const membership = (user: User, project: Project): number => {
    let level: number =
      state.members.get(`project:${project.id}`)?.get(user.id) ?? 0;
    for (const namespace of state.ancestry(state.namespace(project))) {
      if (namespace.kind === 'user' && namespace.ownerId === user.id) {
        level = Math.max(level, AccessLevel.Owner);
      }
      level = Math.max(
        level,
        state.members.get(`namespace:${namespace.id}`)?.get(user.id) ?? 0,
      );
    }
    return level;
  };

  router.get('users', context => {
    requireCaller(context);
    const params = new Params(context.input);
    const username = params.string('username');
    params.check();
    const users = [...state.users.values()].filter(
      user =>
        !user.bot &&
        (!username || user.username.toLowerCase() === username.toLowerCase()),
    );
    return { body: users.map(basic) };
  });

  router.get('projects/:id/members/all/:user_id', context => {
    requireCaller(context);
    const project = findProject(gitlab, context);
    const user = state.users.get(Number(context.params.user_id));
    const level = user ? membership(user, project) : 0;
    if (!user || level === 0) {
      throw notFound('Member');
    }
    return {
      body: {
        ...basic(user),
        access_level: level,
        created_at: user.createdAt.toISOString(),
        expires_at: null,
      },
    };
  });
}
