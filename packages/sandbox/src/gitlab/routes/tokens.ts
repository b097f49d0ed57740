import {
  ApiError,
  badRequest,
  isOAuthToken,
  notFound,
  paginate,
  Params,
  RequestContext,
  Router,
} from '../api';
import { TOKEN_SCOPES } from '../auth';
import {
  findGroupWithAccess,
  findProjectWithAccess,
  GitLab,
  requireCaller,
} from '../context';
import {
  isTokenActive,
  personalAccessTokenEntity,
  resourceAccessTokenEntity,
} from '../entities';
import { createResourceAccessToken, rotateToken } from '../operations';
import { AccessLevel, BotResource, PersonalAccessToken } from '../state';

const ACCESS_LEVELS = [
  AccessLevel.Guest,
  AccessLevel.Reporter,
  AccessLevel.Developer,
  AccessLevel.Maintainer,
  AccessLevel.Owner,
];

/** Any token may read or revoke itself, whatever its scopes. */
const ALL_SCOPES = [...TOKEN_SCOPES];

/**
 * Project and group access tokens (`/projects/:id/access_tokens`, `/groups/:id/access_tokens`)
 * and personal access tokens (`/personal_access_tokens`).
 */
export function tokenRoutes(router: Router, gitlab: GitLab): void {
  const { state, clock } = gitlab;

  const resourceTokens = (
    base: 'projects' | 'groups',
    resource: (context: RequestContext) => {
      resource: BotResource;
      callerLevel: number;
    },
  ) => {
    const memberKey = (r: BotResource) =>
      r.kind === 'project' ? `project:${r.id}` : `namespace:${r.id}`;
    const tokensOf = (r: BotResource) =>
      [...state.personalAccessTokens.values()].filter(token => {
        const owner = state.botResources.get(token.userId);
        return owner?.kind === r.kind && owner.id === r.id;
      });
    const levelOf = (r: BotResource, token: PersonalAccessToken) =>
      state.members.get(memberKey(r))?.get(token.userId) ??
      AccessLevel.NoAccess;
    const findToken = (context: RequestContext) => {
      const { resource: r } = resource(context);
      const token = tokensOf(r).find(
        t => t.id === Number(context.params.token_id),
      );
      if (!token) {
        throw notFound('Token');
      }
      return { r, token };
    };
    const render = (r: BotResource, token: PersonalAccessToken) =>
      resourceAccessTokenEntity(token, levelOf(r, token), clock.today());

    router.get(`${base}/:id/access_tokens`, context => {
      const { resource: r } = resource(context);
      const params = new Params(context.input);
      const wanted = params.string('state', { values: ['active', 'inactive'] });
      params.check();
      const tokens = tokensOf(r).filter(
        t =>
          !wanted || (wanted === 'active') === isTokenActive(t, clock.today()),
      );
      return paginate(context, tokens, t => render(r, t));
    });

    router.get(`${base}/:id/access_tokens/:token_id`, context => {
      const { r, token } = findToken(context);
      return { body: render(r, token) };
    });

    router.post(`${base}/:id/access_tokens`, context => {
      const { resource: r, callerLevel } = resource(context);
      const params = new Params(context.input);
      const name = params.string('name', { required: true })!;
      const scopes = params.stringArray('scopes', {
        required: true,
        values: TOKEN_SCOPES,
      })!;
      const accessLevel =
        params.integer('access_level', { values: ACCESS_LEVELS }) ??
        AccessLevel.Maintainer;
      const expiresAt = params.date('expires_at');
      const description = params.string('description');
      params.check();
      if (accessLevel > callerLevel) {
        throw badRequest(
          "Could not create token: Access level of the token can't be greater the access level of the user who created the token",
        );
      }
      if (expiresAt !== undefined && expiresAt <= clock.today()) {
        throw badRequest('Expiration date must be in the future');
      }
      const { record, value } = createResourceAccessToken(
        gitlab,
        r,
        accessLevel,
        {
          name,
          scopes,
          expiresAt,
          description,
        },
      );
      return { status: 201, body: { ...render(r, record), token: value } };
    });

    router.delete(`${base}/:id/access_tokens/:token_id`, context => {
      const { r, token } = findToken(context);
      token.revoked = true;
      state.members.get(memberKey(r))?.delete(token.userId);
      return { status: 204, body: undefined };
    });

    router.post(`${base}/:id/access_tokens/:token_id/rotate`, context => {
      const { r, token } = findToken(context);
      const params = new Params(context.input);
      const expiresAt = params.date('expires_at');
      params.check();
      const { record, value } = rotateToken(gitlab, token, expiresAt);
      return { body: { ...render(r, record), token: value } };
    });
  };

  resourceTokens('projects', context => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    return {
      resource: { kind: 'project', id: project.id },
      callerLevel: state.projectAccess(context.caller?.user, project),
    };
  });
  resourceTokens('groups', context => {
    const group = findGroupWithAccess(gitlab, context, AccessLevel.Owner);
    return {
      resource: { kind: 'group', id: group.id },
      callerLevel: state.groupAccess(context.caller?.user, group),
    };
  });

  /** The caller's own personal access token; an OAuth token is not one (404). */
  const selfToken = (context: RequestContext): PersonalAccessToken => {
    const { token } = requireCaller(context);
    if (isOAuthToken(token)) {
      throw notFound('Personal Access Token');
    }
    return token;
  };

  // `self` routes come first: `:id` would match them too.
  router.get(
    'personal_access_tokens/self',
    context => ({
      body: personalAccessTokenEntity(selfToken(context), clock.today()),
    }),
    { scopes: ALL_SCOPES },
  );

  router.delete(
    'personal_access_tokens/self',
    context => {
      selfToken(context).revoked = true;
      return { status: 204, body: undefined };
    },
    { scopes: ALL_SCOPES },
  );

  const rotate = (context: RequestContext, token: PersonalAccessToken) => {
    const params = new Params(context.input);
    const expiresAt = params.date('expires_at');
    params.check();
    const { record, value } = rotateToken(gitlab, token, expiresAt);
    return {
      body: {
        ...personalAccessTokenEntity(record, clock.today()),
        token: value,
      },
    };
  };

  router.post(
    'personal_access_tokens/self/rotate',
    context => rotate(context, selfToken(context)),
    { scopes: ['self_rotate'] },
  );

  /** A token of the caller's (any token for an administrator). */
  const findOwnToken = (context: RequestContext) => {
    const caller = requireCaller(context);
    const token = state.personalAccessTokens.get(
      Number(context.params.token_id),
    );
    if (!token || (token.userId !== caller.user.id && !caller.user.admin)) {
      throw notFound('Personal Access Token');
    }
    return token;
  };

  router.get('personal_access_tokens', context => {
    const caller = requireCaller(context);
    const params = new Params(context.input);
    const userId = params.integer('user_id');
    const wanted = params.string('state', { values: ['active', 'inactive'] });
    params.check();
    if (
      userId !== undefined &&
      userId !== caller.user.id &&
      !caller.user.admin
    ) {
      throw new ApiError(401, { message: '401 Unauthorized' });
    }
    const owner = userId ?? (caller.user.admin ? undefined : caller.user.id);
    const tokens = [...state.personalAccessTokens.values()].filter(
      t =>
        (owner === undefined || t.userId === owner) &&
        (!wanted || (wanted === 'active') === isTokenActive(t, clock.today())),
    );
    return paginate(context, tokens, t =>
      personalAccessTokenEntity(t, clock.today()),
    );
  });

  router.get('personal_access_tokens/:token_id', context => ({
    body: personalAccessTokenEntity(findOwnToken(context), clock.today()),
  }));

  router.post('personal_access_tokens/:token_id/rotate', context =>
    rotate(context, findOwnToken(context)),
  );

  router.delete('personal_access_tokens/:token_id', context => {
    findOwnToken(context).revoked = true;
    return { status: 204, body: undefined };
  });
}
