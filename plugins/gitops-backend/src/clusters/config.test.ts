import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { mkdtemp, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  entryForLocated,
  readGitOpsConfig,
  receiverUrlProblem,
} from './config';
import { readCatalogLocator, readConfigLocator } from './locators';
import { TokenCipher } from './TokenCipher';

const proxyPath =
  '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy';

describe('readGitOpsConfig', () => {
  it('applies defaults and reads per-cluster settings', () => {
    const { clusters, encryptionSecret } = readGitOpsConfig(
      new ConfigReader({
        gitops: {
          clusters: [
            { name: 'dev' },
            {
              name: 'prod',
              fluxNamespace: 'flux',
              receiverUrl: `${proxyPath}/`,
              trustedServiceProxyPaths: [proxyPath],
            },
          ],
        },
      }),
    );
    expect(encryptionSecret).toBeUndefined();
    expect(clusters.get('dev')).toEqual({
      name: 'dev',
      settings: { fluxNamespace: 'flux-system', trustedServiceProxyPaths: [] },
    });
    expect(clusters.get('prod')?.settings).toEqual({
      fluxNamespace: 'flux',
      receiverUrl: `${proxyPath}/`,
      trustedServiceProxyPaths: [proxyPath],
    });
  });

  it('binds an entry to a catalog cluster by its full entity ref, never by name alone', () => {
    const { clusters } = readGitOpsConfig(
      new ConfigReader({
        gitops: {
          clusters: [
            // Compatible: a name without entityRef is resource:default/<name>.
            { name: 'edge', serviceAccountToken: 'edge-token' },
            {
              name: 'prod',
              entityRef: 'Resource:Platform/Prod-Cluster',
              serviceAccountToken: 'prod-token',
            },
          ],
        },
      }),
    );
    expect(clusters.get('prod')?.entityRef).toBe(
      'resource:platform/prod-cluster',
    );
    const token = (cluster: { name: string; entityRef?: string }) =>
      entryForLocated(clusters, cluster)?.serviceAccountToken;

    expect(token({ name: 'edge', entityRef: 'resource:default/edge' })).toBe(
      'edge-token',
    );
    // The same name in another namespace gets nothing.
    expect(
      token({ name: 'edge', entityRef: 'resource:attacker/edge' }),
    ).toBeUndefined();
    expect(
      token({
        name: 'prod-cluster',
        entityRef: 'resource:platform/prod-cluster',
      }),
    ).toBe('prod-token');
    // An entry naming an entity is that entity's only: not a same-named Resource in
    // default, nor a cluster of the configuration or the API.
    expect(
      token({ name: 'prod', entityRef: 'resource:default/prod' }),
    ).toBeUndefined();
    expect(
      token({
        name: 'prod-cluster',
        entityRef: 'resource:default/prod-cluster',
      }),
    ).toBeUndefined();
    expect(token({ name: 'prod' })).toBeUndefined();
    expect(token({ name: 'edge' })).toBe('edge-token');

    expect(() =>
      readGitOpsConfig(
        new ConfigReader({
          gitops: {
            clusters: [
              { name: 'a', entityRef: 'component:default/a' },
              { name: 'b', entityRef: 'resource:x/b' },
              { name: 'c', entityRef: 'RESOURCE:X/B' },
            ],
          },
        }),
      ),
    ).toThrow(
      /gitops\.clusters\[0\]\.entityRef: must name a Resource.*gitops\.clusters\[2\]\.entityRef: duplicate entity resource:x\/b/,
    );
  });

  it('refuses an untrusted service-proxy receiver URL, naming the key', () => {
    expect(() =>
      readGitOpsConfig(
        new ConfigReader({
          gitops: {
            clusters: [
              { name: 'dev' },
              { name: 'prod', receiverUrl: proxyPath },
            ],
          },
        }),
      ),
    ).toThrow(
      /gitops\.clusters\[1\]\.receiverUrl: .*service-proxy path.*trustedServiceProxyPaths/,
    );
  });

  it('names every invalid key', () => {
    expect(() =>
      readGitOpsConfig(
        new ConfigReader({
          gitops: {
            clusters: [
              { name: 'a', fluxNamespace: 'Not_A_Namespace', color: 'red' },
              {
                name: 'a',
                receiverUrl: 'ftp://x',
                trustedServiceProxyPaths: ['/x'],
              },
            ],
            encryptionSecret: 'short',
          },
        }),
      ),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /gitops\.clusters\[0\]\.fluxNamespace.*gitops\.clusters\[0\]: Unrecognized key.*color.*gitops\.clusters\[1\]\.trustedServiceProxyPaths\[0\].*gitops\.clusters\[1\]\.name: duplicate.*gitops\.encryptionSecret: must be at least 32/s,
        ),
      }),
    );
  });

  it('accepts http(s) receiver URLs and refuses others', () => {
    expect(
      receiverUrlProblem('https://hooks.example.com/flux', []),
    ).toBeUndefined();
    expect(receiverUrlProblem('ftp://hooks.example.com', [])).toMatch(
      /http or https/,
    );
    expect(receiverUrlProblem('/somewhere', [])).toMatch(/neither/);
    expect(receiverUrlProblem('https://u:p@x.example.com', [])).toMatch(
      /credentials/,
    );
  });
});

describe('TokenCipher', () => {
  const cipher = TokenCipher.fromSecret('0123456789abcdef0123456789abcdef');

  it('round-trips, never shows the plaintext and binds the cluster name', () => {
    const payload = cipher.encrypt('sa-token-123', 'dev');
    expect(payload).not.toContain('sa-token-123');
    expect(cipher.encrypt('sa-token-123', 'dev')).not.toEqual(payload);
    expect(cipher.decrypt(payload, 'dev')).toBe('sa-token-123');
    expect(() => cipher.decrypt(payload, 'prod')).toThrow();
    expect(() =>
      TokenCipher.fromSecret('another-secret-of-32-characters!!').decrypt(
        payload,
        'dev',
      ),
    ).toThrow();
  });

  it('refuses a short secret', () => {
    expect(() => TokenCipher.fromSecret('short')).toThrow(/at least 32/);
  });
});

describe('readConfigLocator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gitops-ca-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads serviceAccount clusters and skips other auth providers with a warning', async () => {
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, 'PEM');
    const logger = mockServices.logger.mock();
    const located = readConfigLocator(
      new ConfigReader({
        clusters: [
          {
            name: 'dev',
            url: 'https://dev.example.com',
            authProvider: 'serviceAccount',
            serviceAccountToken: 'dev-token',
            caData: 'Q0E=',
          },
          {
            name: 'prod',
            url: 'https://prod.example.com',
            authProvider: 'serviceAccount',
            caFile,
            skipTLSVerify: true,
          },
          {
            name: 'gke',
            url: 'https://gke.example.com',
            authProvider: 'google',
          },
        ],
      }),
      logger,
    );
    expect(located).toEqual([
      {
        name: 'dev',
        url: 'https://dev.example.com',
        source: 'config',
        caData: 'Q0E=',
        skipTLSVerify: false,
        token: 'dev-token',
      },
      {
        name: 'prod',
        url: 'https://prod.example.com',
        source: 'config',
        caData: Buffer.from('PEM').toString('base64'),
        skipTLSVerify: true,
      },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/skips Kubernetes cluster "gke".*"google"/),
    );
  });
});

describe('readCatalogLocator', () => {
  function resource(name: string, annotations: Record<string, string>) {
    return {
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Resource',
      metadata: { name, namespace: 'default', annotations },
      spec: { type: 'kubernetes-cluster', owner: 'team' },
    };
  }
  const base = {
    'kubernetes.io/api-server': 'https://203.0.113.10:6443',
    'kubernetes.io/api-server-certificate-authority': 'Q0E=',
    'kubernetes.io/auth-provider': 'serviceAccount',
  };

  it('mirrors the Kubernetes plugin: filter, URL guard, skip-tls only when allowed', async () => {
    const logger = mockServices.logger.mock();
    const catalog = catalogServiceMock({
      entities: [
        resource('public', {
          ...base,
          'kubernetes.io/skip-tls-verify': 'true',
          serviceAccountToken: 'leak',
        }),
        resource('internal', {
          ...base,
          'kubernetes.io/api-server': 'http://127.0.0.1:7110',
        }),
        resource('oidc', { ...base, 'kubernetes.io/auth-provider': 'oidc' }),
        resource('no-ca', {
          'kubernetes.io/api-server': 'https://203.0.113.11',
          'kubernetes.io/auth-provider': 'serviceAccount',
        }),
      ],
    });
    const located = await readCatalogLocator(
      new ConfigReader({ type: 'catalog' }),
      {
        catalog,
        auth: mockServices.auth(),
        logger,
      },
    );
    expect(located).toEqual([
      {
        name: 'public',
        url: 'https://203.0.113.10:6443',
        source: 'catalog',
        caData: 'Q0E=',
        skipTLSVerify: false,
        entityRef: 'resource:default/public',
        apiAddressPolicy: {
          refuse: 'non-public',
          allowedHosts: [],
          allowKey:
            'kubernetes.clusterLocatorMethods[].dangerouslyAllowClusterUrls',
        },
      },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/resource:default\/internal: .*(non-public|https)/),
    );
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/resource:default\/oidc: .*"oidc"/),
    );

    const allowed = await readCatalogLocator(
      new ConfigReader({
        type: 'catalog',
        dangerouslyAllowClusterUrls: ['127.0.0.1'],
        dangerouslyAllowSkipTLSVerify: true,
      }),
      { catalog, auth: mockServices.auth(), logger },
    );
    expect(allowed.map(c => [c.name, c.skipTLSVerify])).toEqual([
      ['public', true],
      ['internal', false],
    ]);
  });
});
