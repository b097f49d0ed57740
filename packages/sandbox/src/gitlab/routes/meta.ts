import { Router } from '../api';
import { GitLab, requireCaller } from '../context';
import { currentUser } from '../entities';

/** `GET /version`, `GET /metadata` and `GET /user`. */
export function metaRoutes(router: Router, gitlab: GitLab): void {
  const version = () => ({
    body: {
      version: gitlab.version,
      revision: 'sandbox',
      kas: {
        enabled: false,
        externalUrl: null,
        externalK8sProxyUrl: null,
        version: null,
      },
      enterprise: false,
    },
  });
  router.get('version', version, {
    scopes: ['read_api', 'read_user', 'ai_features'],
  });
  router.get('metadata', version, {
    scopes: ['read_api', 'read_user', 'ai_features'],
  });
  router.get(
    'user',
    context => ({ body: currentUser(gitlab, requireCaller(context).user) }),
    { scopes: ['read_api', 'read_user'] },
  );
}
