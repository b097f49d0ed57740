import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FLUX_NAMESPACE, SandboxCluster, startSandboxCluster } from './cluster';
import { backstageConfigFor } from './describe';
import type { SandboxWorld } from './world';

jest.setTimeout(20_000);

/** Only what `backstageConfigFor` reads; the rest of a world is not needed to render it. */
function worldWith(cluster: SandboxCluster): SandboxWorld {
  return {
    gitlab: { url: 'http://127.0.0.1:1' },
    demo: {
      tokens: { gitlabAdmin: 'glpat-test' },
      signIn: { clientId: 'client', clientSecret: 'secret' },
    },
    backstageServiceToken: 'service-token',
    clusters: new Map([[cluster.name, cluster]]),
  } as unknown as SandboxWorld;
}

function backstageClusterConfig(cluster: SandboxCluster) {
  const config = parse(backstageConfigFor(worldWith(cluster)));
  return config.kubernetes.clusterLocatorMethods[0].clusters[0];
}

describe('sandbox cluster with TLS', () => {
  let dataDir: string;
  const clusters: SandboxCluster[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cluster-tls-'));
  });

  afterAll(async () => {
    for (const cluster of clusters) await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves its API over HTTPS and gives Backstage its CA instead of skipping verification', async () => {
    const cluster = await startSandboxCluster({
      name: 'secure',
      dataDir,
      tls: true,
    });
    clusters.push(cluster);
    expect(cluster.api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.caData).toBe(cluster.api.caData);

    const backstage = backstageClusterConfig(cluster);
    expect(backstage).toMatchObject({
      url: cluster.api.url,
      caData: cluster.caData,
    });
    expect(backstage).not.toHaveProperty('skipTLSVerify');

    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'secure', server: backstage.url, caData: backstage.caData },
      ],
      users: [{ name: 'backstage', token: backstage.serviceAccountToken }],
      contexts: [{ name: 'secure', cluster: 'secure', user: 'backstage' }],
      currentContext: 'secure',
    });
    const receivers = await kc
      .makeApiClient(CustomObjectsApi)
      .listNamespacedCustomObject({
        group: 'notification.toolkit.fluxcd.io',
        version: 'v1',
        namespace: FLUX_NAMESPACE,
        plural: 'receivers',
      });
    expect(receivers.items).toEqual([]);

    // The webhook receiver behind the service proxy answers over the TLS port too.
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          `${cluster.api.url}/api/v1/namespaces/${FLUX_NAMESPACE}/services/http:webhook-receiver:80/proxy/hook/unknown`,
          {
            ca: Buffer.from(cluster.caData!, 'base64'),
            headers: { Authorization: `Bearer ${cluster.tokens.backstage}` },
          },
          res => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', reject);
    });
    expect(status).toBe(404);
    expect(cluster.notification.requests.map(r => r.path)).toEqual([
      '/hook/unknown',
    ]);
  });

  it('stays on plain HTTP by default, with verification skipped in the Backstage config', async () => {
    const cluster = await startSandboxCluster({ name: 'plain', dataDir });
    clusters.push(cluster);
    expect(cluster.api.url).toMatch(/^http:\/\//);
    expect(cluster.caData).toBeUndefined();
    const backstage = backstageClusterConfig(cluster);
    expect(backstage.skipTLSVerify).toBe(true);
    expect(backstage).not.toHaveProperty('caData');
  });
});
