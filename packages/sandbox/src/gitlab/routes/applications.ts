import { forbidden, notFound, Params, RequestContext, Router } from '../api';
import { GitLab, requireCaller } from '../context';
import { createOAuthApplication } from '../oauth';
import type { OAuthApplication } from '../state';

function applicationEntity(application: OAuthApplication) {
  return {
    id: application.id,
    application_id: application.uid,
    application_name: application.name,
    callback_url: application.redirectUris.join('\n'),
    confidential: application.confidential,
  };
}

/** Instance-wide OAuth applications (`/applications`): administrators only, as in GitLab. */
export function applicationRoutes(router: Router, gitlab: GitLab): void {
  const requireAdmin = (context: RequestContext) => {
    if (!requireCaller(context).user.admin) {
      throw forbidden();
    }
  };

  router.post(
    'applications',
    context => {
      requireAdmin(context);
      const params = new Params(context.input);
      const name = params.string('name', { required: true });
      const redirectUri = params.string('redirect_uri', { required: true });
      const scopes = params.string('scopes', { required: true });
      const confidential = params.boolean('confidential');
      params.check();
      const { record, secret } = createOAuthApplication(gitlab, {
        name: name!,
        // One redirect URI per line, as the admin area takes them.
        redirectUris: redirectUri!.split(/\s+/).filter(Boolean),
        scopes: scopes!.split(/\s+/).filter(Boolean),
        confidential,
      });
      return { status: 201, body: { ...applicationEntity(record), secret } };
    },
    { scopes: ['api'] },
  );

  router.get(
    'applications',
    context => {
      requireAdmin(context);
      return {
        body: [...gitlab.state.oauthApplications.values()].map(
          applicationEntity,
        ),
      };
    },
    { scopes: ['api'] },
  );

  router.delete(
    'applications/:id',
    context => {
      requireAdmin(context);
      const id = Number(context.params.id);
      if (!gitlab.state.oauthApplications.delete(id)) {
        throw notFound('Application');
      }
      // Its grants and tokens stop working with it.
      for (const [key, grant] of gitlab.state.oauthAccessGrants) {
        if (grant.applicationId === id)
          gitlab.state.oauthAccessGrants.delete(key);
      }
      for (const [key, token] of gitlab.state.oauthAccessTokens) {
        if (token.applicationId === id)
          gitlab.state.oauthAccessTokens.delete(key);
      }
      return { status: 204, body: undefined };
    },
    { scopes: ['api'] },
  );
}
