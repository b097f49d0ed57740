import { Entity } from '@backstage/catalog-model';
import { isGitOpsAvailable } from './entity';

function entityWith(annotations: Record<string, string>): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'podinfo', annotations },
    spec: {},
  };
}

describe('isGitOpsAvailable', () => {
  it('is true with a delivery repository annotation', () => {
    expect(
      isGitOpsAvailable(
        entityWith({
          'gitops.backstage.io/delivery-repositories':
            'https://gitlab.example.com/team/delivery.git',
        }),
      ),
    ).toBe(true);
  });

  it('is true with the Kubernetes plugin annotation', () => {
    expect(
      isGitOpsAvailable(
        entityWith({ 'backstage.io/kubernetes-id': 'podinfo' }),
      ),
    ).toBe(true);
  });

  it('is false without either, or with blank values', () => {
    expect(isGitOpsAvailable(entityWith({}))).toBe(false);
    expect(
      isGitOpsAvailable(
        entityWith({ 'gitops.backstage.io/delivery-repositories': '  ' }),
      ),
    ).toBe(false);
  });
});
