import { EntityProvider } from '@backstage/plugin-catalog-react';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { permissionApi } from '../../__testUtils__/permissions';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { gitopsApiRef } from '../../api';
import { fakeGitOpsApi } from '../../__fixtures__/api';
import { operation, podinfoEntity } from '../../__fixtures__/status';
import { EntityGitOpsCard } from './EntityGitOpsCard';

describe('EntityGitOpsCard', () => {
  it('shows the worst state per cluster and syncs every object with its source', async () => {
    const api = fakeGitOpsApi({
      reconcile: jest.fn(async () => [
        operation({
          status: 'succeeded',
          finishedAt: new Date().toISOString(),
        }),
      ]),
    });
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [gitopsApiRef, api],
          [permissionApiRef, permissionApi(true)],
        ]}
      >
        <EntityProvider entity={podinfoEntity}>
          <EntityGitOpsCard />
        </EntityProvider>
      </TestApiProvider>,
    );
    const dev = await screen.findByTestId('gitops-card-cluster-dev');
    expect(within(dev).getByText('Ready')).toBeInTheDocument();
    const prod = screen.getByTestId('gitops-card-cluster-prod');
    expect(within(prod).getByText('Stale')).toBeInTheDocument();
    expect(within(prod).getByText('Stalled')).toBeInTheDocument();

    const sync = screen.getByTestId('gitops-card-sync');
    await waitFor(() => expect(sync).toBeEnabled());
    fireEvent.click(sync);
    await waitFor(() =>
      expect(api.reconcile).toHaveBeenCalledWith('component:default/podinfo', {
        target: undefined,
        withSource: true,
      }),
    );
    expect(await screen.findByText('succeeded')).toBeInTheDocument();
    await waitFor(() => expect(api.getStatus).toHaveBeenCalledTimes(2));
  });
});
