import { createBackend } from '@backstage/backend-defaults';
import { eventsModuleGitlabWebhook } from '@backstage-gitops/plugin-gitops-backend';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));

// Sign-in: the guest for the demo, and GitLab (the demo's sandbox GitLab, or a real one as
// in app-config.production.yaml). Without `auth.providers.gitlab` the GitLab provider is
// simply not mounted.
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(import('@backstage/plugin-auth-backend-module-gitlab-provider'));

backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(
  import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'),
);
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));

backend.add(import('@backstage/plugin-permission-backend'));
// Everyone reads; an entity's owners act on its deliveries (see permissionPolicy.ts).
backend.add(import('./permissionPolicy'));

backend.add(import('@backstage/plugin-scaffolder-backend'));
backend.add(import('@backstage/plugin-scaffolder-backend-module-gitlab'));
backend.add(
  import('@backstage-gitops/plugin-scaffolder-backend-module-gitops'),
);

// Git host webhooks (push events) arrive through the events backend.
backend.add(import('@backstage/plugin-events-backend'));
// The GitLab webhook ingress with the token compared in constant time (it replaces
// @backstage/plugin-events-backend-module-gitlab, whose module id it shares).
backend.add(eventsModuleGitlabWebhook);
backend.add(import('@backstage/plugin-events-backend-module-github'));

// Sync failures reach the owners of the entity (the GitOps backend sends them).
backend.add(import('@backstage/plugin-notifications-backend'));

backend.add(import('@backstage/plugin-kubernetes-backend'));
backend.add(import('@backstage/plugin-user-settings-backend'));

backend.add(import('@backstage-gitops/plugin-gitops-backend'));

backend.start();
