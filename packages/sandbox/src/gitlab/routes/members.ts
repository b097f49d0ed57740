import { notFound, Params, Router } from '../api';
import { findProject, GitLab, requireCaller } from '../context';
import { userBasic } from '../entities';

/**
 * Users looked up by username, and a project's members with inherited ones
 * (`/projects/:id/members/all/:user_id`): what a client asks to learn whether a person
 * may read a project.
 */
export function memberRoutes(router: Router, gitlab: GitLab): void {
  const { state } = gitlab;

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
    return { body: users.map(user => userBasic(gitlab, user)) };
  });

  router.get('projects/:id/members/all/:user_id', context => {
    requireCaller(context);
    const project = findProject(gitlab, context);
    const user = state.users.get(Number(context.params.user_id));
    const level = user ? state.projectMembership(user, project) : 0;
    if (!user || level === 0) {
      throw notFound('Member');
    }
    return {
      body: {
        ...userBasic(gitlab, user),
        access_level: level,
        created_at: user.createdAt.toISOString(),
        expires_at: null,
      },
    };
  });
}
