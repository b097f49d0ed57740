import type { KubeObject } from '../../kube/types';
import {
  conditionOf,
  startTestCluster,
  waitFor,
  waitForReady,
  type TestCluster,
} from '../__testUtils__/cluster';
import { HELM_RELEASE_TYPE } from '../helm';
import { KUSTOMIZATION_TYPE } from '../kustomize';
import { BUCKET_TYPE, HELM_CHART_TYPE, HELM_REPOSITORY_TYPE } from '.';

const NS = 'flux-system';

function object(
  type: { apiVersion: string; kind: string },
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return { ...type, metadata: { name, namespace: NS }, spec };
}

describe('source-controller HelmRepository, Bucket and HelmChart', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
    cluster.store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
  });

  afterAll(async () => {
    await cluster.dispose();
  });

  it('serves an index artifact for a default HelmRepository and treats an OCI one as static', async () => {
    const { store } = cluster;
    store.create(
      object(HELM_REPOSITORY_TYPE, 'podinfo', {
        interval: '1h',
        url: 'https://stefanprodan.github.io/podinfo',
      }),
    );
    store.create(
      object(HELM_REPOSITORY_TYPE, 'podinfo-oci', {
        type: 'oci',
        url: 'oci://ghcr.io/stefanprodan/charts',
      }),
    );
    const ready = await waitForReady(
      store,
      HELM_REPOSITORY_TYPE,
      NS,
      'podinfo',
    );
    const status = ready.status as Record<string, any>;
    expect(status.artifact.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(status.url).toBe(
      `http://source-controller.flux-system.svc.cluster.local./helmrepository/${NS}/podinfo/index.yaml`,
    );
    expect(conditionOf(ready, 'Ready')?.message).toBe(
      `stored artifact: revision '${status.artifact.revision}'`,
    );

    // Wait until the OCI one has been looked at: it never gets a finalizer, status or conditions.
    await waitFor(
      () => store.get(HELM_REPOSITORY_TYPE, NS, 'podinfo')?.metadata.finalizers,
    );
    store.create(
      object(HELM_REPOSITORY_TYPE, 'marker', {
        interval: '1h',
        url: 'https://example.com/charts',
      }),
    );
    await waitForReady(store, HELM_REPOSITORY_TYPE, NS, 'marker');
    const oci = store.get(HELM_REPOSITORY_TYPE, NS, 'podinfo-oci')!;
    expect(oci.metadata.finalizers).toBeUndefined();
    expect(oci.status ?? {}).toEqual({});
  });

  it('gives an empty Bucket a Ready artifact a Kustomization can apply', async () => {
    const { store } = cluster;
    store.create(
      object(BUCKET_TYPE, 'bucket', {
        interval: '5m',
        bucketName: 'fleet',
        endpoint: 'minio.example.com',
      }),
    );
    const ready = await waitForReady(store, BUCKET_TYPE, NS, 'bucket');
    const revision = (ready.status as Record<string, any>).artifact.revision;
    expect(revision).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    store.create(
      object(KUSTOMIZATION_TYPE, 'from-bucket', {
        interval: '5m',
        path: './',
        prune: true,
        sourceRef: { kind: 'Bucket', name: 'bucket' },
      }),
    );
    const applied = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'from-bucket',
    );
    expect(applied.status).toMatchObject({
      lastAppliedRevision: revision,
      inventory: { entries: [] },
    });
  });

  it('pulls a HelmRepository chart at the requested version and a HelmRelease installs it', async () => {
    const { store } = cluster;
    store.create(
      object(HELM_RELEASE_TYPE, 'podinfo', {
        interval: '10m',
        chart: {
          spec: {
            chart: 'podinfo',
            version: '6.x',
            sourceRef: { kind: 'HelmRepository', name: 'podinfo' },
          },
        },
      }),
    );
    const chart = await waitForReady(
      store,
      HELM_CHART_TYPE,
      NS,
      `${NS}-podinfo`,
    );
    expect((chart.status as Record<string, any>).artifact.revision).toBe(
      '6.0.0',
    );
    expect(conditionOf(chart, 'Ready')?.message).toBe(
      "pulled 'podinfo' chart with version '6.0.0'",
    );
    const release = await waitForReady(store, HELM_RELEASE_TYPE, NS, 'podinfo');
    expect(conditionOf(release, 'Ready')?.message).toBe(
      `Helm install succeeded for release ${NS}/podinfo.v1 with chart podinfo@6.0.0`,
    );
  });

  it('waits for a missing chart source and reports it', async () => {
    const { store } = cluster;
    store.create(
      object(HELM_CHART_TYPE, 'orphan', {
        interval: '5m',
        chart: './chart',
        sourceRef: { kind: 'GitRepository', name: 'nowhere' },
      }),
    );
    const waiting = await waitForReady(
      store,
      HELM_CHART_TYPE,
      NS,
      'orphan',
      'False',
    );
    expect(conditionOf(waiting, 'Ready')).toMatchObject({
      reason: 'SourceUnavailable',
      message:
        'failed to get source: gitrepositories.source.toolkit.fluxcd.io "nowhere" not found',
    });
  });
});
