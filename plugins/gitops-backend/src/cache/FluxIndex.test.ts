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
});
