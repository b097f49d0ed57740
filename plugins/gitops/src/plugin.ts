import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  createRouteRef,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { gitopsApiRef, GitOpsClient } from './api';

/** @public */
export const rootRouteRef = createRouteRef({ id: 'gitops' });

/** The administrators' token page. @public */
export const tokensRouteRef = createRouteRef({ id: 'gitops-tokens' });

/**
 * The GitOps frontend plugin for the legacy frontend system.
 *
 * @public
 */
export const gitopsPlugin = createPlugin({
  id: 'gitops',
  apis: [
    createApiFactory({
      api: gitopsApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new GitOpsClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: { root: rootRouteRef, tokens: tokensRouteRef },
});

/**
 * The GitOps tab for an entity page.
 *
 * @public
 */
export const EntityGitOpsContent = gitopsPlugin.provide(
  createRoutableExtension({
    name: 'EntityGitOpsContent',
    component: () =>
      import('./components/EntityGitOpsContent').then(
        m => m.EntityGitOpsContent,
      ),
    mountPoint: rootRouteRef,
  }),
);

/**
 * The GitOps overview card: the state per cluster and a Sync now button.
 *
 * @public
 */
export const EntityGitOpsCard = gitopsPlugin.provide(
  createComponentExtension({
    name: 'EntityGitOpsCard',
    component: {
      lazy: () =>
        import('./components/EntityGitOpsCard').then(m => m.EntityGitOpsCard),
    },
  }),
);

/**
 * The administrators' page: the token report, every credential Flux uses with Rotate
 * now, and Create. Mount it on a route, e.g. `/gitops/tokens`.
 *
 * @public
 */
export const GitOpsTokensPage = gitopsPlugin.provide(
  createRoutableExtension({
    name: 'GitOpsTokensPage',
    component: () => import('./components/Tokens').then(m => m.TokensPage),
    mountPoint: tokensRouteRef,
  }),
);
