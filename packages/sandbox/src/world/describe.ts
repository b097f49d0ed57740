import { stringify } from 'yaml';
import { FLUX_NAMESPACE } from './cluster';
import { DEMO_TENANTS } from './tenants';
import { SandboxWorld } from './world';

export { DEMO_TENANTS } from './tenants';

/** Everything a test or a person needs to reach the running world (`.sandbox/world.json`). */
export function describeWorld(
  world: SandboxWorld,
  control: { url: string; token: string },
) {
  return {
    control,
    gitlab: {
      url: world.gitlab.url,
      apiUrl: `${world.gitlab.url}/api/v4`,
      adminToken: world.demo.tokens.gitlabAdmin,
      deliveryProject: world.demo.project,
      // Backstage's "Sign in with GitLab": the OAuth application and who may sign in.
      signIn: {
        clientId: world.demo.signIn.clientId,
        redirectUri: world.demo.signIn.redirectUri,
        usernames: world.demo.signIn.usernames,
      },
    },
    registry: { host: world.registry.host, storefrontUrl: world.demo.ociUrl },
    clusters: Object.fromEntries(
      [...world.clusters.values()].map(cluster => [
        cluster.name,
        {
          apiUrl: cluster.api.url,
          caData: cluster.caData,
          tokens: cluster.tokens,
          fluxNamespace: FLUX_NAMESPACE,
          receiverUrl: cluster.receiver.url,
          receiverServiceProxyPath: `/api/v1/namespaces/${FLUX_NAMESPACE}/services/http:webhook-receiver:80/proxy`,
          // Flux tenants (deploy/kubernetes/tenant.yaml): the backend may write in their namespaces.
          tenants: cluster.tenants,
        },
      ]),
    ),
    backstage: { serviceToken: world.backstageServiceToken },
  };
}

export type WorldDescription = ReturnType<typeof describeWorld>;

/**
 * The Backstage configuration that points the app at this world: the Kubernetes plugin's
 * clusters, the GitLab integration, sign-in with the sandbox GitLab and a static token
 * for scripts. Layered over app-config.yaml by `scripts/start`.
 */
export function backstageConfigFor(world: SandboxWorld): string {
  return stringify(backstageConfig(world));
}

/**
 * `backstageConfigFor` as an object, optionally for only some of the world's clusters
 * (a benchmark's scale).
 */
export function backstageConfig(
  world: SandboxWorld,
  options: { clusters?: string[] } = {},
) {
  const gitlabHost = new URL(world.gitlab.url).host;
  const clusters = [...world.clusters.values()].filter(
    cluster => !options.clusters || options.clusters.includes(cluster.name),
  );
  return {
    // "Sign in with GitLab" (@backstage/plugin-auth-backend-module-gitlab-provider) against
    // the sandbox GitLab; the GitLab username is the catalog user's name.
    auth: {
      providers: {
        gitlab: {
          development: {
            clientId: world.demo.signIn.clientId,
            clientSecret: world.demo.signIn.clientSecret,
            audience: world.gitlab.url,
            signIn: {
              resolvers: [{ resolver: 'usernameMatchingUserEntityName' }],
            },
          },
        },
      },
    },
    backend: {
      auth: {
        externalAccess: [
          {
            type: 'static',
            options: {
              token: world.backstageServiceToken,
              subject: 'gitops-demo-cli',
            },
          },
        ],
      },
    },
    // GitLab's push hooks are checked against it; the GitOps backend creates the hooks.
    events: {
      modules: { gitlab: { webhookSecret: world.backstageWebhookSecret } },
    },
    gitops: {
      // Lets the demo register clusters at runtime (tokens stored encrypted with it).
      encryptionSecret: world.backstageEncryptionSecret,
      // Each cluster's webhook receiver, reachable from the backend on loopback.
      clusters: clusters.map(cluster => ({
        name: cluster.name,
        receiverUrl: cluster.receiver.url,
      })),
      // The sandbox's Git host, registry and clusters listen on loopback, which URLs
      // entered through the API may not name otherwise.
      registration: { dangerouslyAllowHosts: ['127.0.0.1'] },
      // Each team's tenant on every cluster (deploy/kubernetes/tenant.yaml): what
      // the backend bootstraps for a team's entity runs there, as the tenant.
      tenancy: { tenants: DEMO_TENANTS },
    },
    integrations: {
      gitlab: [
        {
          host: gitlabHost,
          baseUrl: world.gitlab.url,
          apiBaseUrl: `${world.gitlab.url}/api/v4`,
          token: world.demo.tokens.gitlabAdmin,
        },
      ],
    },
    kubernetes: {
      serviceLocatorMethod: { type: 'multiTenant' },
      clusterLocatorMethods: [
        {
          type: 'config',
          clusters: clusters.map(cluster => ({
            name: cluster.name,
            url: cluster.api.url,
            authProvider: 'serviceAccount',
            serviceAccountToken: cluster.tokens.backstage,
            // Plain HTTP has nothing to verify; with TLS, trust exactly the cluster's CA.
            ...(cluster.caData
              ? { caData: cluster.caData }
              : { skipTLSVerify: true }),
            skipMetricsLookup: true,
          })),
        },
      ],
    },
  };
}
