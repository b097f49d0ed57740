import { startFleet, SandboxFleet } from './fleet';

describe('startFleet', () => {
  let fleet: SandboxFleet;

  beforeAll(async () => {
    fleet = await startFleet({ clusters: 2 });
  });
  afterAll(() => fleet?.stop());

  const list = async (index: number, path: string, method = 'GET') => {
    const cluster = fleet.clusters[index];
    return fetch(`${cluster.api.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${cluster.token}`,
        'Content-Type': 'application/json',
      },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
  };

  it('serves the seeded Flux objects, with status, on every cluster', async () => {
    fleet.seed(5);
    expect(fleet.objectsPerCluster).toBe(5);
    for (const index of [0, 1]) {
      const sources = await (
        await list(index, '/apis/source.toolkit.fluxcd.io/v1/gitrepositories')
      ).json();
      const kustomizations = await (
        await list(index, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations')
      ).json();
      expect(sources.items).toHaveLength(3);
      expect(kustomizations.items).toHaveLength(2);
      const [kustomization] = kustomizations.items;
      expect(kustomization.spec.sourceRef).toEqual({
        kind: 'GitRepository',
        name: kustomization.metadata.name,
      });
      expect(kustomization.status.lastAppliedRevision).toBe(
        sources.items.find(
          (s: any) => s.metadata.name === kustomization.metadata.name,
        ).status.artifact.revision,
      );
      expect(kustomization.status.conditions[0]).toMatchObject({
        type: 'Ready',
        status: 'True',
      });
    }
    // Seeding again only adds what is missing.
    fleet.seed(6);
    const after = await (
      await list(0, '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations')
    ).json();
    expect(after.items).toHaveLength(3);
  });

  it('gives each cluster a read-only token', async () => {
    const denied = await list(
      0,
      '/apis/source.toolkit.fluxcd.io/v1/namespaces/team-0/gitrepositories',
      'POST',
    );
    expect(denied.status).toBe(403);
    expect(fleet.clusters.map(c => c.name)).toEqual(['f001', 'f002']);
    expect(fleet.clusters[0].token).not.toBe(fleet.clusters[1].token);
  });
});
