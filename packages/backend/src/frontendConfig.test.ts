import { loadConfig, loadConfigSchema } from '@backstage/config-loader';
import { resolve } from 'node:path';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '../../..');

/** Every credential an installation of the GitOps plugins configures. */
const CREDENTIALS = {
  kubernetes: {
    clusterLocatorMethods: [
      {
        type: 'config',
        clusters: [
          {
            name: 'prod',
            url: 'https://prod.example.com',
            authProvider: 'serviceAccount',
            serviceAccountToken: 'credential-kubernetes-service-account-token',
          },
        ],
      },
    ],
  },
  integrations: {
    gitlab: [{ host: 'gitlab.example.com', token: 'credential-gitlab-token' }],
    github: [{ host: 'github.com', token: 'credential-github-token' }],
  },
  events: {
    modules: {
      gitlab: { webhookSecret: 'credential-gitlab-webhook-secret' },
      github: { webhookSecret: 'credential-github-webhook-secret' },
    },
  },
  auth: {
    providers: {
      gitlab: {
        development: {
          clientId: 'credential-gitlab-oauth-client-id',
          clientSecret: 'credential-gitlab-oauth-client-secret',
          audience: 'https://gitlab.example.com',
        },
      },
    },
  },
  gitops: {
    encryptionSecret: 'credential-gitops-encryption-secret-0123456789',
    clusters: [
      {
        name: 'catalog-cluster',
        serviceAccountToken: 'credential-gitops-cluster-token',
      },
    ],
  },
};

function valuesOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(valuesOf);
  if (value && typeof value === 'object') {
    return Object.values(value).flatMap(valuesOf);
  }
  return [];
}

/**
 * What the app's bundle would get: the configuration filtered by the schemas of every
 * package of this repository and their dependencies, as `backstage-cli` builds the
 * frontend, with the demo's app-config.yaml and all credentials set.
 */
describe('the configuration the frontend receives', () => {
  it('holds no cluster, Git host or webhook credential', async () => {
    const schema = await loadConfigSchema({
      dependencies: ['app', 'backend'],
      packagePaths: [resolve(ROOT, 'package.json')],
    });
    const { appConfigs } = await loadConfig({
      configRoot: ROOT,
      configTargets: [{ path: resolve(ROOT, 'app-config.yaml') }],
    });
    const frontend = schema.process(
      [...appConfigs, { context: 'credentials', data: CREDENTIALS }],
      { visibility: ['frontend'], ignoreSchemaErrors: true },
    );
    const visible = JSON.stringify(frontend.map(config => config.data));

    // What the frontend must see does reach it: the filter is in effect, not empty.
    expect(visible).toContain('http://localhost:7007');
    const leaked = valuesOf(CREDENTIALS).filter(
      value => value.startsWith('credential-') && visible.includes(value),
    );
    expect(leaked).toEqual([]);
    // Nor do the GitOps settings (cluster URLs are the Kubernetes plugin's to show).
    expect(visible).not.toContain('"gitops"');
  });

  it('tells the app that GitLab sign-in is configured, and nothing of its settings', async () => {
    // As `backstage-cli package start` and `build` collect them for the app: the app and
    // its dependencies only, so the GitLab provider's own schema is not among them.
    const schema = await loadConfigSchema({
      dependencies: ['app'],
      packagePaths: [resolve(ROOT, 'package.json')],
    });
    const { appConfigs } = await loadConfig({
      configRoot: ROOT,
      configTargets: [{ path: resolve(ROOT, 'app-config.yaml') }],
    });
    const frontendOf = (data: object) =>
      schema.process([...appConfigs, { context: 'test', data }], {
        visibility: ['frontend'],
        ignoreSchemaErrors: true,
      });
    const gitlabKey = (data: object) =>
      frontendOf(data)
        .map(config => (config.data as any).auth?.providers?.gitlab)
        .filter(value => value !== undefined);

    // The key, empty: no client id, secret or audience.
    expect(gitlabKey(CREDENTIALS)).toEqual([{}]);
    expect(gitlabKey({})).toEqual([]);
  });
});
