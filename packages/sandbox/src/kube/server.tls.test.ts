import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  Watch,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ADMIN_TOKEN, statusOf, waitFor } from './__testUtils__/cluster';
import { CLUSTER_ADMIN_RULES } from './authorization';
import { startKubeApiServer, type KubeApiServer } from './server';
import { generateKubeTls } from './tls';

jest.setTimeout(20_000);

type TlsSettings = { caData?: string; skipTLSVerify?: boolean };

function coreClient(server: KubeApiServer, settings: TlsSettings): CoreV1Api {
  const kc = kubeConfig(server, settings);
  return kc.makeApiClient(CoreV1Api);
}

function kubeConfig(server: KubeApiServer, settings: TlsSettings): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'sandbox', server: server.url, ...settings }],
    users: [{ name: 'admin', token: ADMIN_TOKEN }],
    contexts: [{ name: 'sandbox', cluster: 'sandbox', user: 'admin' }],
    currentContext: 'sandbox',
  });
  return kc;
}

function startTlsServer(tlsOption: Parameters<typeof startKubeApiServer>[0]) {
  return startKubeApiServer({
    ...tlsOption,
    tokens: { [ADMIN_TOKEN]: { user: 'admin', rules: CLUSTER_ADMIN_RULES } },
  });
}

function errorCode(error: unknown): string | undefined {
  let current = error as { code?: unknown; cause?: unknown } | undefined;
  while (current) {
    if (typeof current.code === 'string') return current.code;
    current = current.cause as typeof current;
  }
  return undefined;
}

async function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    error => error,
  );
}

function caPem(server: KubeApiServer): string {
  return Buffer.from(server.caData!, 'base64').toString('utf8');
}

function peerCertificate(server: KubeApiServer) {
  return new Promise<tls.PeerCertificate>((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: server.port, ca: caPem(server) },
      () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/** A request trusting only the cluster CA, as any HTTPS client of the API would make. */
function httpsRequest(
  server: KubeApiServer,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}${path}`,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca: caPem(server),
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', chunk => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('API server over HTTPS', () => {
  let server: KubeApiServer;
  const cleanups: Array<() => void | Promise<void>> = [];

  beforeEach(async () => {
    server = await startTlsServer({ tls: true });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await server.stop();
  });

  it('serves https with a certificate for 127.0.0.1 and localhost signed by the exposed cluster CA', async () => {
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    expect(caPem(server)).toMatch(/^-----BEGIN CERTIFICATE-----\n/);

    const certificate = await peerCertificate(server);
    expect(certificate.subjectaltname).toContain('IP Address:127.0.0.1');
    expect(certificate.subjectaltname).toContain('DNS:localhost');
    expect(certificate.subject.CN).toBe('kube-apiserver');
    expect(certificate.issuer.CN).toBe('sandbox-kubernetes-ca');
  });

  it('connects with the cluster CA as caData', async () => {
    const core = coreClient(server, { caData: server.caData });
    const list = await core.listNamespace();
    expect(list.items.map(ns => ns.metadata?.name)).toContain('default');
  });

  it('refuses the connection without the CA when TLS is verified, or with another cluster CA', async () => {
    const unverified = await failureOf(
      coreClient(server, { skipTLSVerify: false }).listNamespace(),
    );
    expect(errorCode(unverified)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    const other = await startTlsServer({ tls: true });
    cleanups.push(() => other.stop());
    expect(other.caData).not.toBe(server.caData);
    const wrongCa = await failureOf(
      coreClient(server, { caData: other.caData }).listNamespace(),
    );
    expect(errorCode(wrongCa)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('connects with skipTLSVerify', async () => {
    const core = coreClient(server, { skipTLSVerify: true });
    const namespace = await core.readNamespace({ name: 'default' });
    expect(namespace.metadata?.name).toBe('default');
  });

  it('keeps an informer in sync over TLS, also when the watch is dropped', async () => {
    const kc = kubeConfig(server, { caData: server.caData });
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1ConfigMap>(
      kc,
      '/api/v1/namespaces/default/configmaps',
      () => core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const seen: string[] = [];
    informer.on('add', cm => seen.push(`add ${cm.metadata?.name}`));
    informer.on('update', cm => seen.push(`update ${cm.metadata?.name}`));
    await informer.start();
    cleanups.push(() => informer.stop());
    await waitFor(() => server.faults.describe().openWatches === 1);

    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'first' }, data: { a: '1' } },
    });
    await waitFor(() => seen.includes('add first'));

    server.faults.dropWatches();
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'second' } },
    });
    await core.patchNamespacedConfigMap({
      namespace: 'default',
      name: 'first',
      body: [{ op: 'replace', path: '/data/a', value: '2' }],
    });
    await waitFor(
      () => seen.includes('add second') && seen.includes('update first'),
    );
    expect(informer.list().map(cm => cm.metadata?.name)).toEqual(
      expect.arrayContaining(['first', 'second']),
    );
  });

  it('goes down and comes back over TLS on the same port with the same CA, and injects latency and failures', async () => {
    const port = server.port;
    const kc = kubeConfig(server, { caData: server.caData });
    const core = kc.makeApiClient(CoreV1Api);
    const done: unknown[] = [];
    const controller = await new Watch(kc).watch(
      '/api/v1/namespaces',
      { resourceVersion: server.store.currentResourceVersion() },
      () => {},
      error => done.push(error ?? 'ended'),
    );
    cleanups.push(() => controller.abort());
    await waitFor(() => server.faults.describe().openWatches === 1);

    await server.faults.setDown(true);
    expect(errorCode(await failureOf(core.listNamespace()))).toBe(
      'ECONNREFUSED',
    );
    await waitFor(() => done.length === 1);
    expect(done[0]).not.toBe('ended');

    await server.faults.setDown(false);
    expect(server.port).toBe(port);
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0);

    server.faults.setLatency(20);
    expect((await core.readNamespace({ name: 'default' })).kind).toBe(
      'Namespace',
    );
    server.faults.setLatency(0);

    server.faults.failNext(1, 503);
    expect((await statusOf(core.listNamespace())).code).toBe(503);
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
  });

  it('proxies to a Service backend over TLS', async () => {
    await coreClient(server, { caData: server.caData }).createNamespacedService(
      {
        namespace: 'default',
        body: {
          metadata: { name: 'echo' },
          spec: { ports: [{ name: 'http', port: 80 }] },
        },
      },
    );
    server.registerServiceHandler('default', 'echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', chunk => chunks.push(chunk));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`${req.method} ${req.url} ${Buffer.concat(chunks)}`);
      });
    });

    const response = await httpsRequest(
      server,
      '/api/v1/namespaces/default/services/http:echo:80/proxy/hook?x=1',
      'payload',
    );
    expect(response).toEqual({ status: 200, body: 'POST /hook?x=1 payload' });
  });
});

describe('API server TLS material', () => {
  it('serves the certificate and CA it is given', async () => {
    const material = await generateKubeTls();
    const server = await startTlsServer({ tls: material });
    try {
      expect(caPem(server)).toBe(material.ca);
      const core = coreClient(server, { caData: server.caData });
      expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });

  it('serves plain HTTP without a CA when TLS is not asked for', async () => {
    const server = await startTlsServer({});
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(server.caData).toBeUndefined();
    } finally {
      await server.stop();
    }
  });

  it('names the openssl package when the CLI is missing', async () => {
    const emptyDir = await mkdtemp(join(tmpdir(), 'no-openssl-'));
    try {
      await expect(
        generateKubeTls({ opensslCommand: join(emptyDir, 'openssl') }),
      ).rejects.toThrow(/install the `openssl` package/);
    } finally {
      await rm(emptyDir, { recursive: true, force: true });
    }
  });
});
