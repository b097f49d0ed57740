import { dirname, join } from 'node:path';
import { KubeObject } from '../kube';
import { RunningGitLab } from '../gitlab';
import { RunningRegistry } from '../oci';
import { FLUX_NAMESPACE, SandboxCluster } from './cluster';
import { ArtifactPipeline, runArtifactPipeline } from './ci';

/** The demo delivery repository's content, shipped with this package. */
export const DEMO_DELIVERY_DIR = join(
  dirname(require.resolve('@backstage-gitops/sandbox/package.json')),
  'demo',
  'delivery',
);

export const DEMO_GROUP = 'team';
export const DEMO_PROJECT = 'team/delivery';
export const DEMO_STOREFRONT_IMAGE = 'team/delivery/storefront';

export interface DemoTokens {
  /** GitLab admin (root) personal access token with `api`: Backstage's GitLab integration. */
  gitlabAdmin: string;
  /** Read-only deploy token (read_repository, read_registry) Flux reads the delivery repo with. */
  deployToken: { username: string; token: string };
  /** Project access token with `api`, for Flux's commit-status Provider. */
  commitStatusToken: string;
  /**
   * Planted on purpose: prod pulls the OCI artifact with a CI bot's personal access token
   * with `api` scope where a read-only deploy token would do (the token report flags it).
   */
  overPrivilegedToken: { username: string; token: string };
  /** The CI's own credential to push artifacts. */
  ciPushToken: { username: string; token: string };
}

/** Where the Backstage backend listens in the demo (`backend.baseUrl` of app-config.yaml). */
export const DEMO_BACKSTAGE_BACKEND_URL = 'http://localhost:7007';

/**
 * The GitLab OAuth application Backstage signs people in with: its redirect URI is the
 * backend's GitLab auth handler (`@backstage/plugin-auth-backend-module-gitlab-provider`).
 */
export interface DemoSignIn {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** The people who may sign in (the catalog's `user:default/<username>`). */
  usernames: string[];
}

export interface DemoGitLab {
  project: { httpUrl: string; webUrl: string; pathWithNamespace: string };
  signIn: DemoSignIn;
  ociUrl: string;
  tokens: DemoTokens;
  /** Stops the CI listener. */
  stop(): void;
}

/**
 * Seeds the sandbox GitLab: users, the `team` group, `team/delivery` and its CI, and the
 * OAuth application Backstage (at `backstageUrl`) signs people in with.
 */
export async function seedDemoGitLab(
  gitlab: RunningGitLab,
  registry: RunningRegistry,
  log: (message: string) => void,
  backstageUrl: string = DEMO_BACKSTAGE_BACKEND_URL,
): Promise<DemoGitLab> {
  const admin = gitlab.api;
  // The people of the demo, as in examples/org.yaml: guest (team-apps, platform-admins)
  // and alice (team-payments).
  admin.createUser({
    username: 'guest',
    name: 'Guest',
    email: 'guest@example.com',
  });
  admin.createUser({
    username: 'alice',
    name: 'Alice',
    email: 'alice@example.com',
  });
  admin.createUser({
    username: 'ci-bot',
    name: 'CI bot',
    email: 'ci-bot@example.com',
    serviceAccount: true,
  });
  const application = admin.createOAuthApplication({
    name: 'Backstage (GitOps demo)',
    redirectUris: [`${backstageUrl}/api/auth/gitlab/handler/frame`],
    scopes: ['read_user'],
  });
  const signIn: DemoSignIn = {
    clientId: application.clientId,
    clientSecret: application.clientSecret,
    redirectUri: application.redirectUris[0],
    usernames: ['guest', 'alice'],
  };
  admin.createGroup({ path: DEMO_GROUP, name: 'Team', owner: 'root' });
  admin.addMember({ group: DEMO_GROUP }, 'guest', 30);
  admin.addMember({ group: DEMO_GROUP }, 'alice', 30);
  admin.addMember({ group: DEMO_GROUP }, 'ci-bot', 30);
  const project = await admin.createProject({
    namespace: DEMO_GROUP,
    path: 'delivery',
    name: 'delivery',
    description: 'What Flux applies on the dev and prod clusters',
    directory: DEMO_DELIVERY_DIR,
    creator: 'root',
  });

  const deploy = admin.createDeployToken(
    { project: DEMO_PROJECT },
    { name: 'flux-read', scopes: ['read_repository', 'read_registry'] },
  );
  const ciPush = admin.createDeployToken(
    { project: DEMO_PROJECT },
    { name: 'ci-push', scopes: ['read_registry', 'write_registry'] },
  );
  const tokens: DemoTokens = {
    gitlabAdmin: admin.createPersonalAccessToken('root', {
      name: 'backstage',
      scopes: ['api'],
    }).token,
    deployToken: { username: deploy.username, token: deploy.token },
    commitStatusToken: admin.createProjectAccessToken(DEMO_PROJECT, {
      name: 'flux-commit-status',
      scopes: ['api'],
      accessLevel: 30,
    }).token,
    overPrivilegedToken: {
      username: 'ci-bot',
      token: admin.createPersonalAccessToken('ci-bot', {
        name: 'flux-prod-pull',
        scopes: ['api'],
      }).token,
    },
    ciPushToken: { username: ciPush.username, token: ciPush.token },
  };

  const ociUrl = `oci://${registry.host}/${DEMO_STOREFRONT_IMAGE}`;
  const pipeline: ArtifactPipeline = {
    path: 'apps/storefront',
    ociUrl,
    credentials: {
      username: tokens.ciPushToken.username,
      password: tokens.ciPushToken.token,
    },
  };
  const repository = admin.repository(DEMO_PROJECT);
  const branch = project.defaultBranch;
  const head = await repository.resolveCommit(`refs/heads/${branch}`);
  if (!head) throw new Error(`${DEMO_PROJECT} has no ${branch} branch`);
  await runArtifactPipeline(repository, pipeline, branch, head, project.webUrl);

  // Every later push to the default branch that touches the app runs the pipeline again.
  const stopListening = admin.onPush(notification => {
    const { payload } = notification;
    if (
      notification.pathWithNamespace !== DEMO_PROJECT ||
      payload.ref !== `refs/heads/${branch}`
    )
      return;
    const touched = payload.commits.some(commit =>
      [...commit.added, ...commit.modified, ...commit.removed].some(file =>
        file.startsWith(`${pipeline.path}/`),
      ),
    );
    if (!touched || !payload.checkout_sha) return;
    runArtifactPipeline(
      repository,
      pipeline,
      branch,
      payload.checkout_sha,
      project.webUrl,
    ).then(
      run =>
        log(
          `CI pushed ${ociUrl}:${run.tags.join(',')} for ${run.sha.slice(
            0,
            8,
          )}`,
        ),
      error => log(`CI pipeline failed: ${(error as Error).message}`),
    );
  });

  return {
    project: {
      httpUrl: project.httpUrl,
      webUrl: project.webUrl,
      pathWithNamespace: project.pathWithNamespace,
    },
    signIn,
    ociUrl,
    tokens,
    stop: stopListening,
  };
}

function basicAuthSecret(
  name: string,
  username: string,
  password: string,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: FLUX_NAMESPACE },
    type: 'Opaque',
    stringData: { username, password },
  };
}

function dockerConfigSecret(
  name: string,
  host: string,
  username: string,
  password: string,
): KubeObject {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: FLUX_NAMESPACE },
    type: 'kubernetes.io/dockerconfigjson',
    stringData: {
      '.dockerconfigjson': JSON.stringify({
        auths: { [host]: { username, password, auth } },
      }),
    },
  };
}

function kustomization(
  name: string,
  path: string,
  sourceRef: { kind: string; name: string },
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: {
      name,
      namespace: FLUX_NAMESPACE,
      labels:
        name === 'infrastructure' ? {} : { 'backstage.io/kubernetes-id': name },
    },
    spec: {
      interval: '5m',
      retryInterval: '30s',
      timeout: '2m',
      path,
      prune: true,
      wait: true,
      sourceRef,
      ...extra,
    },
  };
}

export interface DemoFluxOptions {
  cluster: SandboxCluster;
  gitlab: DemoGitLab;
  registryHost: string;
  /** The GitRepository's and OCIRepository's `spec.interval`. */
  sourceInterval: string;
}

/** The Flux objects a bootstrap of the demo would leave on a cluster. */
export function demoFluxObjects(options: DemoFluxOptions): KubeObject[] {
  const { cluster, gitlab, registryHost } = options;
  const { tokens } = gitlab;
  const registryCredential =
    cluster.name === 'prod' ? tokens.overPrivilegedToken : tokens.deployToken;
  const dependsOnInfrastructure = { dependsOn: [{ name: 'infrastructure' }] };
  return [
    basicAuthSecret(
      'team-delivery-auth',
      tokens.deployToken.username,
      tokens.deployToken.token,
    ),
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'team-delivery', namespace: FLUX_NAMESPACE },
      spec: {
        interval: options.sourceInterval,
        url: gitlab.project.httpUrl,
        ref: { branch: 'main' },
        secretRef: { name: 'team-delivery-auth' },
      },
    },
    dockerConfigSecret(
      'team-registry-auth',
      registryHost,
      registryCredential.username,
      registryCredential.token,
    ),
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: {
        name: 'storefront',
        namespace: FLUX_NAMESPACE,
        labels: { 'backstage.io/kubernetes-id': 'storefront' },
      },
      spec: {
        interval: options.sourceInterval,
        url: gitlab.ociUrl,
        ref: { tag: 'latest' },
        insecure: true,
        secretRef: { name: 'team-registry-auth' },
      },
    },
    kustomization('infrastructure', `./infrastructure/${cluster.name}`, {
      kind: 'GitRepository',
      name: 'team-delivery',
    }),
    kustomization(
      'podinfo',
      `./apps/podinfo/${cluster.name}`,
      { kind: 'GitRepository', name: 'team-delivery' },
      dependsOnInfrastructure,
    ),
    kustomization(
      'payments',
      `./apps/payments/${cluster.name}`,
      { kind: 'GitRepository', name: 'team-delivery' },
      dependsOnInfrastructure,
    ),
    kustomization(
      'storefront',
      './',
      { kind: 'OCIRepository', name: 'storefront' },
      dependsOnInfrastructure,
    ),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitlab-commit-status', namespace: FLUX_NAMESPACE },
      type: 'Opaque',
      stringData: { token: tokens.commitStatusToken },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Provider',
      metadata: { name: 'gitlab', namespace: FLUX_NAMESPACE },
      spec: {
        type: 'gitlab',
        address: gitlab.project.webUrl,
        secretRef: { name: 'gitlab-commit-status' },
      },
    },
    {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: { name: 'gitlab-commit-status', namespace: FLUX_NAMESPACE },
      spec: {
        providerRef: { name: 'gitlab' },
        eventSeverity: 'info',
        eventSources: [{ kind: 'Kustomization', name: '*' }],
      },
    },
  ];
}
