import { ClusterStatus } from '@backstage-gitops/plugin-gitops-common';
import { dependsOnGraphOf } from './DependsOnGraph';

function item(
  name: string,
  dependsOn?: Array<{ name: string; namespace: string }>,
) {
  return {
    kind: 'Kustomization' as const,
    name,
    namespace: 'flux-system',
    kstatus: 'Current' as const,
    ready: { status: 'True' as const },
    suspended: false,
    events: [],
    dependsOn,
  };
}

describe('dependsOnGraphOf', () => {
  it('links each Kustomization to what it depends on, including objects outside the entity', () => {
    const cluster: ClusterStatus = {
      name: 'dev',
      stale: false,
      kubernetesIdObjects: [],
      chains: [
        {
          source: { ...item('team-delivery'), kind: 'GitRepository' },
          consumers: [
            item('podinfo', [
              { name: 'infrastructure', namespace: 'flux-system' },
            ]),
            item('standalone'),
          ],
        },
      ],
    };
    expect(dependsOnGraphOf(cluster)).toEqual({
      nodes: [
        { id: 'Kustomization flux-system/podinfo' },
        { id: 'Kustomization flux-system/infrastructure' },
      ],
      edges: [
        {
          from: 'Kustomization flux-system/podinfo',
          to: 'Kustomization flux-system/infrastructure',
          label: 'depends on',
        },
      ],
    });
  });

  it('is empty without dependencies', () => {
    expect(
      dependsOnGraphOf({
        name: 'dev',
        stale: false,
        kubernetesIdObjects: [],
        chains: [{ source: item('src'), consumers: [item('a')] }],
      }).edges,
    ).toEqual([]);
  });
});
