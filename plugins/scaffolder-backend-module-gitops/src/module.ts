import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { ScmIntegrations } from '@backstage/integration';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import {
  createFluxManifestsAction,
  createRegisterDeliveryRepoAction,
  GitOpsBootstrapClient,
} from './actions';

/**
 * Scaffolder actions that wire a new delivery repository to Flux through the gitops
 * backend: `gitops:delivery-repo:register` and `gitops:flux:manifests`.
 *
 * @public
 */
export const scaffolderModuleGitOps = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'gitops',
  register(env) {
    env.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
        config: coreServices.rootConfig,
      },
      async init({ scaffolder, auth, discovery, config }) {
        const api = new GitOpsBootstrapClient({ auth, discovery });
        const integrations = ScmIntegrations.fromConfig(config);
        scaffolder.addActions(
          createRegisterDeliveryRepoAction({ api, integrations }),
          createFluxManifestsAction({ api, integrations }),
        );
      },
    });
  },
});
