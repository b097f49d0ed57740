import { FluxIndex } from './FluxIndex';
import { projectFluxEvent, projectFluxObject } from './projection';

const object = (
  kind: any,
  namespace: string,
  name: string,
  spec: object,
  labels?: object,
) =>
  projectFluxObject(
    {
      metadata: { name, namespace, labels, managedFields: [{}] },
      spec,
      status: {},
    },
    'dev',
    kind,
    'x/v1',
  );

const event = (name: string, lastTimestamp: string) =>
  projectFluxEvent({
    metadata: { name, namespace: 'apps' },
    involvedObject: {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      namespace: 'apps',
      name: 'web',
    },
    reason: 'InstallSucceeded',
    lastTimestamp,
  })!;

describe('FluxIndex', () => {
  it('indexes HelmReleases by chart source across namespaces, and unfiles on change', () => {
    const index = new FluxIndex(2);
    const release = object('HelmRelease', 'apps', 'web', {
      chart: {
        spec: {
          chart: 'web',
          sourceRef: {
            kind: 'GitRepository',
            name: 'charts',
            namespace: 'flux-system',
          },
        },
      },
      values: { password: 'not kept' },
    });
    expect(release.spec).not.toHaveProperty('values');
    expect(release.metadata).not.toHaveProperty('managedFields');
    index.upsert(release);
    const charts = {
      kind: 'GitRepository' as const,
      namespace: 'flux-system',
      name: 'charts',
    };
    expect(index.consumersOfSource(charts)).toEqual([release]);

    index.upsert(
      object('HelmRelease', 'apps', 'web', {
        chartRef: { kind: 'OCIRepository', name: 'web' },
      }),
    );
    expect(index.consumersOfSource(charts)).toEqual([]);
    expect(
      index.consumersOfSource({
        kind: 'OCIRepository',
        namespace: 'apps',
        name: 'web',
      }),
    ).toHaveLength(1);
    index.delete({ kind: 'HelmRelease', namespace: 'apps', name: 'web' });
    expect(index.list()).toEqual([]);
  });

  it('ignores unparsable source URLs and keeps the latest events per object', () => {
    const index = new FluxIndex(2);
    index.upsert(object('Bucket', 'flux-system', 'b', { url: 'not a url' }));
    expect(index.list()).toHaveLength(1);

    index.upsertEvent(event('e1', '2025-01-01T00:00:01Z'));
    index.upsertEvent(event('e3', '2025-01-01T00:00:03Z'));
    index.upsertEvent(event('e2', '2025-01-01T00:00:02Z'));
    const ref = {
      kind: 'HelmRelease' as const,
      namespace: 'apps',
      name: 'web',
    };
    expect(index.events(ref).map(e => e.metadata.name)).toEqual(['e3', 'e2']);
    expect(
      projectFluxEvent({
        metadata: { name: 'other', namespace: 'apps' },
        involvedObject: {
          apiVersion: 'example.com/v1',
          kind: 'Bucket',
          name: 'b',
        },
      }),
    ).toBeUndefined();
  });

  it('files many consumers of one source and unfiles them one by one', () => {
    const index = new FluxIndex(2);
    const source = {
      kind: 'GitRepository' as const,
      namespace: 'flux-system',
      name: 'delivery',
    };
    const consumer = (name: string) =>
      object('Kustomization', 'flux-system', name, {
        sourceRef: { kind: 'GitRepository', name: 'delivery' },
      });
    const names = () =>
      index
        .consumersOfSource(source)
        .map(o => o.metadata.name)
        .sort();
    index.upsert(consumer('a'));
    index.upsert(consumer('a'));
    expect(names()).toEqual(['a']);
    index.upsert(consumer('b'));
    index.upsert(consumer('c'));
    expect(names()).toEqual(['a', 'b', 'c']);
    index.delete({
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'b',
    });
    expect(names()).toEqual(['a', 'c']);
    index.delete({
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'a',
    });
    expect(names()).toEqual(['c']);
    index.delete({
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'c',
    });
    expect(names()).toEqual([]);
    expect(index.size).toBe(0);
  });
});

describe('projectFluxObject', () => {
  it('keeps what status, actions and receivers read and drops the rest', () => {
    const revision = 'main@sha1:0123456789abcdef0123456789abcdef01234567';
    const message = `Applied revision: ${revision}`;
    const projected = projectFluxObject(
      {
        metadata: {
          name: 'podinfo',
          namespace: 'flux-system',
          uid: 'u-1',
          generation: 3,
          resourceVersion: '42',
          creationTimestamp: '2026-01-01T00:00:00Z',
          labels: { 'backstage.io/kubernetes-id': 'podinfo' },
          managedFields: [{ manager: 'kubectl' }],
        },
        spec: {
          interval: '10m',
          path: './apps/podinfo',
          sourceRef: { kind: 'GitRepository', name: 'delivery' },
          suspend: false,
          patches: [{ patch: 'x'.repeat(10_000) }],
          postBuild: { substitute: { secret: 'not kept' } },
        },
        status: {
          observedGeneration: 3,
          lastHandledReconcileAt: '2026-01-01T00:01:00Z',
          lastAppliedRevision: revision,
          lastAttemptedRevision: revision,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'ReconciliationSucceeded',
              message,
              lastTransitionTime: '2026-01-01T00:01:00Z',
              observedGeneration: 3,
            },
            // Nothing reads it: not kept.
            { type: 'Healthy', status: 'True', reason: 'Succeeded' },
          ],
          inventory: {
            entries: [
              { id: 'apps_web_apps_Deployment', v: 'v1' },
              { id: 'apps_web__Service', v: 'v1' },
            ],
          },
          history: [{ digest: 'sha256:abc' }],
        },
      },
      'dev',
      'Kustomization',
      'kustomize.toolkit.fluxcd.io/v1',
    );
    expect(projected).toEqual({
      cluster: 'dev',
      kind: 'Kustomization',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      metadata: {
        name: 'podinfo',
        namespace: 'flux-system',
        uid: 'u-1',
        generation: 3,
        resourceVersion: '42',
        labels: { 'backstage.io/kubernetes-id': 'podinfo' },
      },
      spec: {
        interval: '10m',
        path: './apps/podinfo',
        sourceRef: { kind: 'GitRepository', name: 'delivery' },
        suspend: false,
      },
      status: {
        observedGeneration: 3,
        lastHandledReconcileAt: '2026-01-01T00:01:00Z',
        lastAppliedRevision: revision,
        lastAttemptedRevision: revision,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ReconciliationSucceeded',
            message,
          },
        ],
        inventoryIds: 'apps_web_apps_Deployment\napps_web__Service',
      },
    });
  });

  it("keeps a Receiver's whole spec and its webhook path, and an OCI artifact's origin", () => {
    const receiverSpec = {
      type: 'generic',
      secretRef: { name: 'token' },
      resources: [{ kind: 'GitRepository', name: 'delivery' }],
    };
    const receiver = projectFluxObject(
      {
        metadata: { name: 'r', namespace: 'flux-system' },
        spec: receiverSpec,
        status: { webhookPath: '/hook/abc', conditions: [] },
      },
      'dev',
      'Receiver',
      'notification.toolkit.fluxcd.io/v1',
    );
    expect(receiver.spec).toEqual(receiverSpec);
    expect(receiver.status.webhookPath).toBe('/hook/abc');

    const oci = projectFluxObject(
      {
        metadata: { name: 'app', namespace: 'flux-system' },
        spec: { url: 'oci://registry.example.com/app', ref: { tag: 'latest' } },
        status: {
          artifact: {
            revision: 'latest@sha256:abc',
            url: 'http://source-controller/oci/app.tar.gz',
            metadata: { 'org.opencontainers.image.revision': 'main@sha1:def' },
          },
        },
      },
      'dev',
      'OCIRepository',
      'source.toolkit.fluxcd.io/v1',
    );
    expect(oci.status.artifact).toEqual({
      revision: 'latest@sha256:abc',
      metadata: { 'org.opencontainers.image.revision': 'main@sha1:def' },
    });
  });
});
