import {
  isObjectName,
  PROJECTION_LIMITS,
  projectFluxEvent,
  projectFluxObject,
} from './projection';

/** What one cached object may cost at most, as JSON (see PROJECTION_LIMITS). */
const OBJECT_BOUND = 110 * 1024 + PROJECTION_LIMITS.inventoryChars;
const EVENT_BOUND = 24 * 1024;

const size = (value: unknown) => JSON.stringify(value).length;
const huge = 'x'.repeat(5_000_000);

function manyEntries(count: number, value: (i: number) => unknown) {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) out[`example.com/key-${i}`] = value(i);
  return out;
}

describe('projection of a hostile object', () => {
  it('stays bounded whatever the cluster sends, keeping the keys the plugin reads', () => {
    const annotations = manyEntries(10_000, () => 'v'.repeat(400));
    annotations['example.com/huge'] = huge;
    // The plugin's own key, sent last among thousands: still kept.
    annotations['gitops.backstage.io/receiver'] = 'disabled';
    const raw = {
      metadata: {
        name: 'podinfo',
        namespace: 'flux-system',
        uid: 'u-1',
        labels: {
          ...manyEntries(10_000, () => 'label'),
          'example.com/long': 'l'.repeat(64),
          'backstage.io/kubernetes-id': 'podinfo',
        },
        annotations,
      },
      spec: {
        interval: '10m',
        url: huge,
        path: './apps',
        sourceRef: { kind: 'GitRepository', name: 'delivery', extra: huge },
        dependsOn: Array.from({ length: 100_000 }, (_, i) => ({
          name: `dep-${i}`,
        })),
        ref: { a: { b: { c: { d: { e: 'deep' } } } } },
      },
      status: {
        observedGeneration: 1,
        conditions: Array.from({ length: 100_000 }, () => ({
          type: 'Ready',
          status: 'False',
          reason: huge,
          message: huge,
        })),
        lastAppliedRevision: huge,
        lastAttemptedRevision:
          'main@sha1:0123456789abcdef0123456789abcdef01234567',
        inventory: {
          entries: Array.from({ length: 200_000 }, (_, i) => ({
            id: `default_object-${i}-${'n'.repeat(80)}_apps_Deployment`,
            v: 'v1',
          })),
        },
        webhookPath: huge,
        artifact: {
          revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
          url: 'http://127.0.0.1:9/steal',
          metadata: manyEntries(10_000, () => huge),
        },
      },
    };
    const projected = projectFluxObject(
      raw,
      'hostile',
      'Kustomization',
      'kustomize.toolkit.fluxcd.io/v1',
    );
    expect(size(projected)).toBeLessThan(OBJECT_BOUND);
    const { metadata, spec, status } = projected;
    expect(Object.keys(metadata.labels!)).toHaveLength(
      PROJECTION_LIMITS.mapEntries,
    );
    expect(metadata.labels!['backstage.io/kubernetes-id']).toBe('podinfo');
    expect(metadata.labels!['example.com/long']).toBeUndefined();
    expect(metadata.annotations!['gitops.backstage.io/receiver']).toBe(
      'disabled',
    );
    expect(metadata.annotations!['example.com/huge']).toBeUndefined();
    expect(spec.url).toBeUndefined();
    expect(spec.interval).toBe('10m');
    expect(spec.sourceRef).toEqual({ kind: 'GitRepository', name: 'delivery' });
    expect((spec.dependsOn as unknown[]).length).toBeLessThanOrEqual(
      PROJECTION_LIMITS.specEntries,
    );
    expect(spec.ref).toEqual({ a: { b: { c: {} } } });
    const conditions = status.conditions as Record<string, string>[];
    expect(conditions).toHaveLength(1);
    expect(conditions[0].reason).toBeUndefined();
    expect(conditions[0].message).toHaveLength(PROJECTION_LIMITS.message);
    expect(conditions[0].message.endsWith('\u2026')).toBe(true);
    expect(status.lastAppliedRevision).toBeUndefined();
    expect(status.lastAttemptedRevision).toMatch(/^main@sha1:/);
    expect(status.webhookPath).toBeUndefined();
    expect(status.artifact).toEqual({
      revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
    });
    const ids = (status.inventoryIds as string).split('\n');
    expect(ids.length).toBeGreaterThan(1000);
    expect(ids.length).toBeLessThanOrEqual(PROJECTION_LIMITS.inventoryEntries);
    expect((status.inventoryIds as string).length).toBeLessThanOrEqual(
      PROJECTION_LIMITS.inventoryChars,
    );
  });

  it('bounds a Receiver spec, and never crashes on malformed fields', () => {
    const receiver = projectFluxObject(
      {
        metadata: { name: 'r', namespace: 'flux-system' },
        spec: {
          type: 'generic',
          resources: Array.from({ length: 100_000 }, (_, i) => ({
            kind: 'GitRepository',
            name: `r-${i}`,
          })),
          secretRef: { name: huge },
        },
        status: { webhookPath: '//127.0.0.1:9/x' },
      },
      'hostile',
      'Receiver',
      'notification.toolkit.fluxcd.io/v1',
    );
    expect(size(receiver.spec)).toBeLessThanOrEqual(
      PROJECTION_LIMITS.receiverSpecChars + 1024,
    );
    // Kept (short), and refused where it would be used (ReceiverTrigger).
    expect(receiver.status.webhookPath).toBe('//127.0.0.1:9/x');

    for (const raw of [
      {},
      { metadata: [], spec: 'x', status: 7 },
      {
        metadata: {
          name: { toString: () => 'x' },
          namespace: 42,
          uid: { a: 1 },
          generation: '3',
          labels: ['a'],
          annotations: 'x',
          resourceVersion: [1],
          deletionTimestamp: new Date('invalid'),
        },
        spec: { interval: 5, sourceRef: null, dependsOn: 'x', path: NaN },
        status: {
          conditions: 'Ready',
          inventory: { entries: 'x' },
          artifact: [],
          observedGeneration: Infinity,
        },
      },
      {
        metadata: { name: 'x', namespace: 'y' },
        status: {
          conditions: [null, 1, 'x', { type: 'Ready', status: { a: 1 } }],
          inventory: {
            entries: [null, { id: 5 }, { id: 'a\nb' }, { id: 'ok' }],
          },
        },
      },
    ]) {
      const projected = projectFluxObject(
        raw as Record<string, any>,
        'hostile',
        'GitRepository',
        'source.toolkit.fluxcd.io/v1',
      );
      expect(size(projected)).toBeLessThan(2048);
      expect(typeof projected.metadata.name).toBe('string');
      expect(typeof projected.metadata.namespace).toBe('string');
    }
  });

  it('keeps only names Kubernetes allows (they go into API paths)', () => {
    for (const name of ['..', '.', 'a/b', 'A', '-a', 'a b', '%2e%2e', '']) {
      const projected = projectFluxObject(
        { metadata: { name, namespace: name } },
        'hostile',
        'GitRepository',
        'source.toolkit.fluxcd.io/v1',
      );
      expect(projected.metadata).toMatchObject({ name: '', namespace: '' });
    }
    expect(
      projectFluxObject(
        { metadata: { name: 'podinfo.v2', namespace: 'flux-system' } },
        'dev',
        'GitRepository',
        'source.toolkit.fluxcd.io/v1',
      ).metadata,
    ).toMatchObject({ name: 'podinfo.v2', namespace: 'flux-system' });
  });

  it('tells a Kubernetes name (safe in an API path) from anything else', () => {
    for (const name of ['flux-system', 'gitops-git-team-delivery', 'a.b']) {
      expect(isObjectName(name)).toBe(true);
    }
    for (const name of [
      '..',
      '../secrets',
      'a/b',
      'A',
      '',
      'x'.repeat(254),
      7,
    ]) {
      expect(isObjectName(name)).toBe(false);
    }
  });

  it('bounds an event about a Flux object', () => {
    const event = projectFluxEvent({
      metadata: {
        name: 'e',
        namespace: 'flux-system',
        annotations: manyEntries(10_000, () => huge),
      },
      involvedObject: {
        kind: 'Kustomization',
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        name: huge,
        namespace: 'flux-system',
      },
      type: huge,
      reason: 'Progressing',
      message: huge,
      reportingComponent: huge,
      series: 'x',
      count: '3',
    });
    expect(event).toBeDefined();
    expect(size(event)).toBeLessThan(EVENT_BOUND);
    expect(event!.message).toHaveLength(PROJECTION_LIMITS.message);
    expect(event!.involvedObject.name).toBe('');
    expect(event!.type).toBeUndefined();
    expect(event!.reason).toBe('Progressing');
  });
});
