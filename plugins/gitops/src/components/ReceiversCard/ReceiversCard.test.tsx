import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { screen, within } from '@testing-library/react';
import { gitopsApiRef } from '../../api';
import { fakeGitOpsApi } from '../../__fixtures__/api';
import { ReceiversCard } from './ReceiversCard';

describe('ReceiversCard', () => {
  it('lists each receiver of the entity with how its last trigger went', async () => {
    const api = fakeGitOpsApi();
    await renderInTestApp(
      <TestApiProvider apis={[[gitopsApiRef, api]]}>
        <ReceiversCard entityRef="component:default/podinfo" />
      </TestApiProvider>,
    );
    const table = await screen.findByTestId('gitops-receivers');
    expect(api.getReceivers).toHaveBeenCalledWith('component:default/podinfo');
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map(row => row.textContent)).toEqual([
      expect.stringMatching(
        /^devflux-system\/gitops-git-team-delivery.*receiver called$/,
      ),
      expect.stringMatching(
        /^prodflux-system\/gitops-git-team-delivery.*fallback: requestedAt annotatedthe receiver answered 503/,
      ),
    ]);
  });

  it('says why there is none', async () => {
    const api = fakeGitOpsApi({ getReceivers: jest.fn(async () => []) });
    await renderInTestApp(
      <TestApiProvider apis={[[gitopsApiRef, api]]}>
        <ReceiversCard entityRef="component:default/podinfo" />
      </TestApiProvider>,
    );
    expect(await screen.findByText(/No managed receiver/)).toBeInTheDocument();
  });
});
