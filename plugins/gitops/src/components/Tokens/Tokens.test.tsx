import { alertApiRef } from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { GitOpsApi, gitopsApiRef } from '../../api';
import { fakeGitOpsApi } from '../../__fixtures__/api';
import { permissionApi } from '../../__testUtils__/permissions';
import { TokensCard } from './TokensCard';
import { TokensPage } from './TokensPage';

async function render(ui: JSX.Element, api: GitOpsApi, allowed = true) {
  const alertApi = { post: jest.fn(), alert$: jest.fn() };
  return {
    alertApi,
    rendered: await renderInTestApp(
      <TestApiProvider
        apis={[
          [gitopsApiRef, api],
          [permissionApiRef, permissionApi(allowed)],
          [alertApiRef, alertApi],
        ]}
      >
        {ui}
      </TestApiProvider>,
    ),
  };
}

describe('TokensCard', () => {
  it('lists the entity\u2019s credentials with where they are used and the findings', async () => {
    const api = fakeGitOpsApi();
    await render(<TokensCard entityRef="component:default/podinfo" />, api);
    const row = await screen.findByTestId('gitops-token-flux-read');
    expect(api.getEntityTokens).toHaveBeenCalledWith(
      'component:default/podinfo',
    );
    expect(row).toHaveTextContent('deploy-token');
    expect(within(row).getByText('read_repository')).toBeInTheDocument();
    expect(within(row).getByText('read_registry')).toBeInTheDocument();
    expect(row).toHaveTextContent('2027-01-31');
    expect(row).toHaveTextContent(
      'dev: flux-system/team-delivery-auth (GitRepository team-delivery)',
    );
    const pat = screen.getByTestId('gitops-token-flux-prod-pull');
    expect(
      within(pat).getByTestId('gitops-finding-api-scope'),
    ).toHaveTextContent(
      'Use a project deploy token with read_repository/read_registry.',
    );
    // A personal access token is replaced, not rotated.
    expect(
      within(pat).getByRole('button', { name: 'Rotate now' }),
    ).toBeDisabled();
  });

  it('rotates a deploy token, says so, and reads the inventory again', async () => {
    const api = fakeGitOpsApi();
    const { alertApi } = await render(
      <TokensCard entityRef="component:default/podinfo" />,
      api,
    );
    fireEvent.click(await screen.findByTestId('gitops-rotate-flux-read'));
    await waitFor(() =>
      expect(api.rotateToken).toHaveBeenCalledWith('a'.repeat(20)),
    );
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({
          severity: 'success',
          message: expect.stringMatching(/old one is revoked/),
        }),
      ),
    );
    await waitFor(() => expect(api.getEntityTokens).toHaveBeenCalledTimes(2));
  });

  it('shows a failed rotation\u2019s reason', async () => {
    const api = fakeGitOpsApi({
      rotateToken: jest.fn(async () => {
        throw new Error('Rolled back, the old credential is kept: not Ready');
      }),
    });
    const { alertApi } = await render(
      <TokensCard entityRef="component:default/podinfo" />,
      api,
    );
    fireEvent.click(await screen.findByTestId('gitops-rotate-flux-read'));
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({
          severity: 'error',
          message: expect.stringMatching(
            /Rolled back, the old credential is kept/,
          ),
        }),
      ),
    );
  });
});

describe('TokensPage', () => {
  it('shows every credential with the report and creates one for a repository', async () => {
    const api = fakeGitOpsApi();
    const { alertApi } = await render(<TokensPage />, api);
    expect(
      await screen.findByText('1 finding(s) in the report'),
    ).toBeInTheDocument();
    expect(
      screen.getByTestId('gitops-token-flux-prod-pull'),
    ).toBeInTheDocument();

    fireEvent.change(screen.getByTestId('gitops-create-repository'), {
      target: { value: 'oci://registry.example.com/team/delivery/storefront' },
    });
    fireEvent.click(screen.getByTestId('gitops-create-token'));
    await waitFor(() =>
      expect(api.createToken).toHaveBeenCalledWith({
        repository: 'oci://registry.example.com/team/delivery/storefront',
        purpose: 'read',
      }),
    );
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({ severity: 'success' }),
      ),
    );
    await waitFor(() => expect(api.getTokens).toHaveBeenCalledTimes(2));
  });
});
