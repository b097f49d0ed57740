import { Entity } from '@backstage/catalog-model';
import {
  ApiBlueprint,
  coreExtensionData,
} from '@backstage/frontend-plugin-api';
import {
  createExtensionTester,
  renderInTestApp,
} from '@backstage/frontend-test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { screen } from '@testing-library/react';
import { gitopsApiRef } from './api';
import {
  gitopsApi,
  gitopsEntityCard,
  gitopsEntityContent,
  gitopsTokensPage,
} from './alpha';
import { fakeGitOpsApi } from './__fixtures__/api';
import { podinfoEntity } from './__fixtures__/status';
import { permissionApi } from './__testUtils__/permissions';

const plainEntity: Entity = {
  ...podinfoEntity,
  metadata: { name: 'plain', namespace: 'default' },
};

function renderExtension(element: JSX.Element) {
  const api = fakeGitOpsApi();
  renderInTestApp(
    <EntityProvider entity={podinfoEntity}>{element}</EntityProvider>,
    {
      apis: [
        [gitopsApiRef, api],
        [permissionApiRef, permissionApi(true)],
      ],
    },
  );
  return api;
}

describe('the new frontend system plugin', () => {
  it('provides the GitOps client built on discovery and fetch', () => {
    const factory = createExtensionTester(gitopsApi).get(
      ApiBlueprint.dataRefs.factory,
    );
    expect(factory.api).toBe(gitopsApiRef);
    expect(Object.keys(factory.deps).sort()).toEqual([
      'discoveryApi',
      'fetchApi',
    ]);
  });

  it('offers the GitOps tab at /gitops only on entities with the annotations', () => {
    const tester = createExtensionTester(gitopsEntityContent);
    expect(tester.get(EntityContentBlueprint.dataRefs.title)).toBe('GitOps');
    expect(tester.get(coreExtensionData.routePath)).toBe('/gitops');
    const filter = tester.get(EntityContentBlueprint.dataRefs.filterFunction)!;
    expect(filter(podinfoEntity)).toBe(true);
    expect(filter(plainEntity)).toBe(false);
  });

  it('renders the tab with the shared client', async () => {
    const tester = createExtensionTester(gitopsEntityContent);
    const api = renderExtension(tester.get(coreExtensionData.reactElement));
    expect(
      await screen.findByTestId('gitops-sync-dev-podinfo'),
    ).toBeInTheDocument();
    expect(api.getStatus).toHaveBeenCalledWith('component:default/podinfo');
  });

  it('renders the overview card on annotated entities only', async () => {
    const tester = createExtensionTester(gitopsEntityCard);
    const filter = tester.get(EntityCardBlueprint.dataRefs.filterFunction)!;
    expect(filter(podinfoEntity)).toBe(true);
    expect(filter(plainEntity)).toBe(false);
    renderExtension(tester.get(coreExtensionData.reactElement));
    expect(
      await screen.findByTestId('gitops-card-cluster-dev'),
    ).toBeInTheDocument();
  });

  it('offers the token page at /gitops/tokens and renders the report', async () => {
    const tester = createExtensionTester(gitopsTokensPage);
    expect(tester.get(coreExtensionData.routePath)).toBe('/gitops/tokens');
    const api = renderExtension(tester.get(coreExtensionData.reactElement));
    expect(
      await screen.findByTestId('gitops-token-flux-prod-pull'),
    ).toBeInTheDocument();
    expect(api.getTokenReport).toHaveBeenCalled();
  });
});
