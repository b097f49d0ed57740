import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
} from '@backstage/frontend-plugin-api';
import VpnKeyIcon from '@material-ui/icons/VpnKey';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { isGitOpsAvailable } from '@backstage-gitops/plugin-gitops-common';
import { gitopsApiRef, GitOpsClient } from './api';

/** @alpha */
export const gitopsApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: gitopsApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new GitOpsClient({ discoveryApi, fetchApi }),
    }),
});

/** @alpha */
export const gitopsEntityContent = EntityContentBlueprint.make({
  params: {
    path: '/gitops',
    title: 'GitOps',
    filter: isGitOpsAvailable,
    loader: () =>
      import('./components/EntityGitOpsContent').then(m => (
        <m.EntityGitOpsContent />
      )),
  },
});

/** @alpha */
export const gitopsEntityCard = EntityCardBlueprint.make({
  params: {
    filter: isGitOpsAvailable,
    loader: () =>
      import('./components/EntityGitOpsCard').then(m => <m.EntityGitOpsCard />),
  },
});

/** @alpha */
export const gitopsTokensPage = PageBlueprint.make({
  name: 'tokens',
  params: {
    path: '/gitops/tokens',
    title: 'GitOps tokens',
    icon: <VpnKeyIcon />,
    loader: () => import('./components/Tokens').then(m => <m.TokensPage />),
  },
});

/**
 * The GitOps plugin for the new frontend system.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'gitops',
  extensions: [
    gitopsApi,
    gitopsEntityContent,
    gitopsEntityCard,
    gitopsTokensPage,
  ],
});
