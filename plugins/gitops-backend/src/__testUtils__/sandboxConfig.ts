import { SandboxWorld } from '@backstage-gitops/sandbox';

/**
 * The configuration a backend needs to reach a sandbox world: its clusters through the
 * Kubernetes plugin's config locator and its GitLab as an integration.
 */
export function sandboxBackendConfig(world: SandboxWorld) {
  return {
    kubernetes: {
      clusterLocatorMethods: [
        {
          type: 'config',
          clusters: [...world.clusters.values()].map(cluster => ({
            name: cluster.name,
            url: cluster.api.url,
            authProvider: 'serviceAccount',
            serviceAccountToken: cluster.tokens.backstage,
            caData: cluster.caData,
          })),
        },
      ],
    },
    integrations: {
      gitlab: [
        {
          host: new URL(world.gitlab.url).host,
          baseUrl: world.gitlab.url,
          apiBaseUrl: `${world.gitlab.url}/api/v4`,
          token: world.demo.tokens.gitlabAdmin,
        },
      ],
    },
  };
}

/** `gitops.clusters` for a sandbox world: each cluster's receiver on loopback. */
export function sandboxReceiverUrls(world: SandboxWorld) {
  return [...world.clusters.values()].map(cluster => ({
    name: cluster.name,
    receiverUrl: cluster.receiver.url,
  }));
}

/**
 * `gitops.registration` for a sandbox world: its Git host, registry and clusters all
 * listen on 127.0.0.1, which the API otherwise refuses in a URL.
 */
export const sandboxRegistration = { dangerouslyAllowHosts: ['127.0.0.1'] };

/**
 * `gitops.repositoryAccess` for a sandbox world: a test user's GitLab account is the one
 * named as its user entity (the demo's GitLab has `guest` and `alice`, members of the
 * delivery project's group; `sandboxGitLabMembers` adds others).
 */
export const sandboxRepositoryAccess = { loginFromEntityName: true };

/** Accounts on the world's GitLab for these users, Developers of the demo project's group. */
export function sandboxGitLabMembers(world: SandboxWorld, usernames: string[]) {
  const group = world.demo.project.pathWithNamespace.split('/')[0];
  for (const username of usernames) {
    world.gitlab.api.createUser({ username });
    world.gitlab.api.addMember({ group }, username, 30);
  }
}
