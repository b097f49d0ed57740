import {
  CustomObjectsApi,
  KubeConfig,
  AppsV1Api,
} from '@kubernetes/client-node';
import { Gitlab } from '@gitbeaker/rest';
import { execFile } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadResourceTypes } from '../kube';
import { backstageConfig, describeWorld } from './describe';
import { SandboxWorld, startWorld } from './world';

jest.setTimeout(120_000);

const run = promisify(execFile);

/** A cluster-admin client: the test looks at everything Flux did, beyond the backend's grant. */
function kubeClient(world: SandboxWorld, clusterName: string) {
  const cluster = world.cluster(clusterName);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: clusterName, server: cluster.api.url, caData: cluster.caData },
    ],
    users: [{ name: 'admin', token: cluster.tokens.admin }],
    contexts: [{ name: clusterName, cluster: clusterName, user: 'admin' }],
    currentContext: clusterName,
  });
  return {
    custom: kc.makeApiClient(CustomObjectsApi),
    apps: kc.makeApiClient(AppsV1Api),
  };
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(
    `Timed out waiting for ${what}${
      last ? `: ${(last as Error).message}` : ''
    }`,
  );
}

type FluxObject = {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: {
    conditions?: Array<{
      type: string;
      status: string;
      reason?: string;
      message?: string;
    }>;
    artifact?: { revision: string; metadata?: Record<string, string> };
    lastAppliedRevision?: string;
    lastAppliedOriginRevision?: string;
    inventory?: { entries: Array<{ id: string }> };
  };
};

function isReady(object: FluxObject): boolean {
  return (
    object.status?.conditions?.some(
      c => c.type === 'Ready' && c.status === 'True',
    ) ?? false
  );
}

describe('the demo world', () => {
  let world: SandboxWorld;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sandbox-world-'));
    world = await startWorld({
      dataDir,
      clusters: ['dev'],
      sourceInterval: '2s',
    });
  });

  afterAll(async () => {
    await world?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reconciles the delivery repository, the OCI artifact and the apps on the cluster', async () => {
    const { custom, apps } = kubeClient(world, 'dev');
    const head = await world.gitlab.api
      .repository('team/delivery')
      .resolveCommit('refs/heads/main');

    const git = await eventually('the GitRepository to be Ready', async () => {
      const object = (await custom.getNamespacedCustomObject({
        group: 'source.toolkit.fluxcd.io',
        version: 'v1',
        namespace: 'flux-system',
        plural: 'gitrepositories',
        name: 'team-delivery',
      })) as FluxObject;
      return isReady(object) ? object : undefined;
    });
    expect(git.status?.artifact?.revision).toBe(`main@sha1:${head}`);

    const oci = await eventually('the OCIRepository to be Ready', async () => {
      const object = (await custom.getNamespacedCustomObject({
        group: 'source.toolkit.fluxcd.io',
        version: 'v1',
        namespace: 'flux-system',
        plural: 'ocirepositories',
        name: 'storefront',
      })) as FluxObject;
      return isReady(object) ? object : undefined;
    });
    expect(oci.status?.artifact?.revision).toMatch(
      /^latest@sha256:[a-f0-9]{64}$/,
    );
    expect(
      oci.status?.artifact?.metadata?.['org.opencontainers.image.revision'],
    ).toBe(`main@sha1:${head}`);

    for (const name of ['podinfo', 'payments', 'storefront']) {
      const kustomization = await eventually(
        `Kustomization ${name} to be Ready`,
        async () => {
          const object = (await custom.getNamespacedCustomObject({
            group: 'kustomize.toolkit.fluxcd.io',
            version: 'v1',
            namespace: 'flux-system',
            plural: 'kustomizations',
            name,
          })) as FluxObject;
          return isReady(object) ? object : undefined;
        },
      );
      expect(kustomization.status?.inventory?.entries.map(e => e.id)).toContain(
        `${name}_${name}_apps_Deployment`,
      );
    }
    const storefront = (await custom.getNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: 'flux-system',
      plural: 'kustomizations',
      name: 'storefront',
    })) as FluxObject;
    expect(storefront.status?.lastAppliedOriginRevision).toBe(
      `main@sha1:${head}`,
    );

    const podinfo = await apps.readNamespacedDeployment({
      name: 'podinfo',
      namespace: 'podinfo',
    });
    expect(podinfo.spec?.template.spec?.containers[0].image).toBe(
      'ghcr.io/stefanprodan/podinfo:1.1.0',
    );
  });

  it('moves the GitRepository to a pushed commit within its interval, and delivers the Push Hook', async () => {
    const received: Array<{ headers: IncomingMessage['headers']; body: any }> =
      [];
    const hookServer: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', chunk => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
        res.end('ok');
      });
    });
    await new Promise<void>(resolve =>
      hookServer.listen(0, '127.0.0.1', () => resolve()),
    );
    const hookUrl = `http://127.0.0.1:${
      (hookServer.address() as AddressInfo).port
    }/hook`;

    const api = new Gitlab({
      host: world.gitlab.url,
      token: world.demo.tokens.gitlabAdmin,
    });
    await api.ProjectHooks.add('team/delivery', hookUrl, {
      pushEvents: true,
      token: 'hook-secret',
    });

    // A real `git push` over HTTP with a personal access token.
    const checkout = await mkdtemp(join(tmpdir(), 'sandbox-push-'));
    try {
      const remote = new URL(world.demo.project.httpUrl);
      remote.username = 'root';
      remote.password = world.demo.tokens.gitlabAdmin;
      const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
      await run('git', ['clone', '-q', remote.toString(), checkout], { env });
      await writeFile(
        join(checkout, 'apps', 'podinfo', 'dev', 'NOTES.md'),
        'pushed by the test\n',
      );
      await run('git', ['-C', checkout, 'add', '.'], { env });
      await run(
        'git',
        [
          '-C',
          checkout,
          '-c',
          'user.name=Test',
          '-c',
          'user.email=test@example.com',
          'commit',
          '-qm',
          'Add notes',
        ],
        { env },
      );
      await run('git', ['-C', checkout, 'push', '-q', 'origin', 'main'], {
        env,
      });
      const { stdout } = await run('git', [
        '-C',
        checkout,
        'rev-parse',
        'HEAD',
      ]);
      const pushed = stdout.trim();

      const hook = await eventually(
        'the Push Hook',
        async () => received[0],
        10_000,
      );
      expect(hook.headers['x-gitlab-event']).toBe('Push Hook');
      expect(hook.headers['x-gitlab-token']).toBe('hook-secret');
      expect(hook.body.after).toBe(pushed);
      expect(hook.body.project.path_with_namespace).toBe('team/delivery');

      // No reconcile is requested: the 2 s interval alone must pick the commit up.
      const { custom } = kubeClient(world, 'dev');
      await eventually(
        'the GitRepository to reach the pushed commit',
        async () => {
          const object = (await custom.getNamespacedCustomObject({
            group: 'source.toolkit.fluxcd.io',
            version: 'v1',
            namespace: 'flux-system',
            plural: 'gitrepositories',
            name: 'team-delivery',
          })) as FluxObject;
          return object.status?.artifact?.revision === `main@sha1:${pushed}`
            ? object
            : undefined;
        },
        15_000,
      );
    } finally {
      await rm(checkout, { recursive: true, force: true });
      await new Promise<void>(resolve => hookServer.close(() => resolve()));
    }
  });

  it("has the tenants of deploy/kubernetes/tenant.yaml, where the backend's token may create sources, and nowhere else", async () => {
    const cluster = world.cluster('dev');
    const { store } = cluster.api;
    const rbac = (kind: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind,
    });
    for (const tenant of ['team-apps', 'team-payments']) {
      expect(
        store.get({ apiVersion: 'v1', kind: 'Namespace' }, undefined, tenant)
          ?.metadata.labels,
      ).toMatchObject({ 'toolkit.fluxcd.io/tenant': tenant });
      expect(
        store.get({ apiVersion: 'v1', kind: 'ServiceAccount' }, tenant, tenant),
      ).toBeDefined();
      expect(
        store.get(rbac('RoleBinding'), tenant, `${tenant}-reconciler`),
      ).toMatchObject({
        roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [
          { kind: 'User', name: `gotk:${tenant}:reconciler` },
          { kind: 'ServiceAccount', name: tenant, namespace: tenant },
        ],
      });
      expect(
        store.get(rbac('RoleBinding'), tenant, 'backstage-gitops'),
      ).toMatchObject({
        roleRef: {
          kind: 'ClusterRole',
          name: 'backstage-gitops-flux-namespace',
        },
      });
    }
    expect(
      store.get(rbac('ClusterRole'), undefined, 'cluster-admin'),
    ).toBeDefined();
    expect(
      describeWorld(world, { url: 'http://control', token: 't' }).clusters.dev
        .tenants,
    ).toEqual([
      {
        name: 'team-apps',
        namespace: 'team-apps',
        serviceAccount: 'team-apps',
      },
      {
        name: 'team-payments',
        namespace: 'team-payments',
        serviceAccount: 'team-payments',
      },
    ]);

    // The backend's token: exactly rbac.yaml plus each tenant's RoleBinding.
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'dev', server: cluster.api.url, caData: cluster.caData },
      ],
      users: [{ name: 'backstage', token: cluster.tokens.backstage }],
      contexts: [{ name: 'dev', cluster: 'dev', user: 'backstage' }],
      currentContext: 'dev',
    });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const createSource = (namespace: string) =>
      custom.createNamespacedCustomObject({
        group: 'source.toolkit.fluxcd.io',
        version: 'v1',
        namespace,
        plural: 'gitrepositories',
        body: {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: 'bootstrapped', namespace },
          spec: {
            interval: '10m',
            url: world.demo.project.httpUrl,
            ref: { branch: 'main' },
          },
        },
      });
    await expect(createSource('team-apps')).resolves.toMatchObject({
      metadata: { name: 'bootstrapped', namespace: 'team-apps' },
    });
    const refused = await createSource('default').then(
      () => undefined,
      (error: { code?: number; body?: unknown }) => error,
    );
    // Gone again (source-controller drops its finalizer), so the census below holds.
    const created = {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
    };
    store.delete(created, 'team-apps', 'bootstrapped');
    await eventually('the GitRepository to be deleted', async () =>
      store.get(created, 'team-apps', 'bootstrapped') ? undefined : true,
    );
    expect(refused?.code).toBe(403);
    expect(JSON.parse(String(refused?.body)).message).toBe(
      'gitrepositories.source.toolkit.fluxcd.io is forbidden: User "system:serviceaccount:flux-system:backstage-gitops" cannot create resource "gitrepositories" in API group "source.toolkit.fluxcd.io" in the namespace "default"',
    );
  });

  it('stores only Flux objects that validate against the Flux schemas', async () => {
    const store = world.cluster('dev').api.store;
    const fluxTypes = (await loadResourceTypes()).filter(
      type => type.group.endsWith('.fluxcd.io') && type.validate,
    );
    let validated = 0;
    for (const type of fluxTypes) {
      for (const object of store.list({
        apiVersion: `${type.group}/${type.version}`,
        kind: type.kind,
      }).items) {
        expect(() => type.validate!(object)).not.toThrow();
        validated++;
      }
    }
    // GitRepository and OCIRepository at both served versions (4), four Kustomizations,
    // the Provider and the Alert.
    expect(validated).toBe(10);
  });

  it("signs the demo's people in to Backstage through its GitLab OAuth application", async () => {
    const { signIn } = world.demo;
    expect(signIn.redirectUri).toBe(
      'http://localhost:7007/api/auth/gitlab/handler/frame',
    );
    expect(backstageConfig(world).auth.providers.gitlab.development).toEqual({
      clientId: signIn.clientId,
      clientSecret: signIn.clientSecret,
      audience: world.gitlab.url,
      signIn: { resolvers: [{ resolver: 'usernameMatchingUserEntityName' }] },
    });
    const request = new URLSearchParams({
      response_type: 'code',
      client_id: signIn.clientId,
      redirect_uri: signIn.redirectUri,
      scope: 'read_user',
      state: 's',
    });
    const page = await (
      await fetch(`${world.gitlab.url}/oauth/authorize?${request}`)
    ).text();
    // The catalog's users (examples/org.yaml), not the CI's service account nor root.
    expect(
      [...page.matchAll(/name="username" value="([^"]+)"/g)].map(m => m[1]),
    ).toEqual(signIn.usernames);

    request.set('username', 'alice');
    const picked = await fetch(`${world.gitlab.url}/oauth/authorize`, {
      method: 'POST',
      body: request,
      redirect: 'manual',
    });
    const code = new URL(picked.headers.get('location')!).searchParams.get(
      'code',
    )!;
    const granted = await (
      await fetch(`${world.gitlab.url}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: signIn.redirectUri,
          client_id: signIn.clientId,
          client_secret: signIn.clientSecret,
        }),
      })
    ).json();
    const alice = new Gitlab({
      host: world.gitlab.url,
      oauthToken: granted.access_token,
    });
    expect(await alice.Users.showCurrentUser()).toMatchObject({
      username: 'alice',
    });
  });
});
