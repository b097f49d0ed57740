import { alertApiRef } from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { screen, waitFor } from '@testing-library/react';
import { gitopsApiRef } from '../../api';
import { fakeGitOpsApi } from '../../__fixtures__/api';
import { permissionApi } from '../../__testUtils__/permissions';
import { TokensCard } from './TokensCard';

// A file of its own: usePermission keeps its answers for the whole test file.
describe('TokensCard without gitops.tokens.manage', () => {
  it('disables Rotate now, saying which permission it needs', async () => {
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [gitopsApiRef, fakeGitOpsApi()],
          [permissionApiRef, permissionApi(false)],
          [alertApiRef, { post: jest.fn(), alert$: jest.fn() }],
        ]}
      >
        <TokensCard entityRef="component:default/podinfo" />
      </TestApiProvider>,
    );
    const button = await screen.findByTestId('gitops-rotate-flux-read');
    await waitFor(() => expect(button).toBeDisabled());
    expect(button.parentElement).toHaveAttribute(
      'title',
      'Rotating credentials needs the gitops.tokens.manage permission',
    );
  });
});
