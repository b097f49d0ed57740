import { Entity } from '@backstage/catalog-model';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { permissionApi } from '../../__testUtils__/permissions';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { GitOpsApi, gitopsApiRef } from '../../api';
import { fakeGitOpsApi } from '../../__fixtures__/api';
import {
  HEAD,
  operation,
  podinfoEntity,
  status,
} from '../../__fixtures__/status';
import { EntityGitOpsContent } from './EntityGitOpsContent';

async function renderFor(
  entity: Entity,
  api: GitOpsApi,
  allowed: boolean = true,
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [gitopsApiRef, api],
        [permissionApiRef, permissionApi(allowed)],
      ]}
    >
      <EntityProvider entity={entity}>
        <EntityGitOpsContent />
      </EntityProvider>
    </TestApiProvider>,
  );
}

describe('EntityGitOpsContent', () => {
  it('names the missing annotations on an entity without them', async () => {
    const api = fakeGitOpsApi();
    await renderFor(
      { ...podinfoEntity, metadata: { name: 'podinfo', annotations: {} } },
      api,
    );
    expect(
      await screen.findAllByText(
        /gitops\.backstage\.io\/delivery-repositories/,
      ),
    ).not.toHaveLength(0);
    expect(api.getStatus).not.toHaveBeenCalled();
  });

  it('shows each cluster chain with chips, revisions, freshness and the stale warning', async () => {
    const api = fakeGitOpsApi();
    await renderFor(podinfoEntity, api);

    const devRevision = await screen.findByTestId(
      'gitops-revision-dev-podinfo',
    );
    expect(devRevision).toHaveTextContent(`main@${HEAD.slice(0, 7)}`);
    expect(within(devRevision).getByRole('link')).toHaveAttribute(
      'href',
      `http://gitlab.example.com/team/delivery/-/commit/${HEAD}`,
    );
    expect(api.getStatus).toHaveBeenCalledWith('component:default/podinfo');

    for (const chip of [
      'Ready',
      'Suspended',
      'Stalled',
      'Progressing',
      'Stale',
    ]) {
      expect(screen.getAllByText(chip).length).toBeGreaterThan(0);
    }
    expect(screen.getAllByText('up to date').length).toBeGreaterThan(0);
    expect(screen.getAllByText('behind by 2 commits').length).toBeGreaterThan(
      0,
    );
    expect(
      screen.getAllByText(/reconciled 2 minutes ago/).length,
    ).toBeGreaterThan(0);
    expect(screen.getAllByText('every 5m').length).toBeGreaterThan(0);
    expect(screen.getByText(/ECONNREFUSED/)).toBeInTheDocument();
    expect(
      screen.getByText(/kustomization path not found/),
    ).toBeInTheDocument();

    fireEvent.click(screen.getAllByText(/Inventory \(2 objects\)/)[0]);
    expect(
      await screen.findByText('Deployment.apps podinfo/podinfo'),
    ).toBeInTheDocument();

    expect(await screen.findByTestId('gitops-history')).toHaveTextContent(
      'guest',
    );
    expect(await screen.findByTestId('gitops-receivers')).toHaveTextContent(
      'gitops-git-team-delivery',
    );
  });

  it('says how many objects were left out because another entity the user may not read claims them', async () => {
    const api = fakeGitOpsApi({
      getStatus: jest.fn(async () => ({
        ...status,
        clusters: status.clusters.map((cluster, i) =>
          i === 0 ? { ...cluster, hiddenObjects: 2 } : cluster,
        ),
      })),
    });
    await renderFor(podinfoEntity, api);
    const note = await screen.findByTestId(
      `gitops-hidden-${status.clusters[0].name}`,
    );
    expect(note).toHaveTextContent(
      '2 objects are not shown: also claimed by an entity you may not read.',
    );
    expect(
      screen.queryByTestId(`gitops-hidden-${status.clusters[1].name}`),
    ).toBeNull();
  });

  it('disables Sync with the reason when permission is denied', async () => {
    // usePermission caches answers per entity across renders: use another entity.
    const otherTeams = {
      ...podinfoEntity,
      metadata: { ...podinfoEntity.metadata, name: 'payments' },
    };
    await renderFor(otherTeams, fakeGitOpsApi(), false);
    const sync = await screen.findByTestId('gitops-sync-dev-podinfo');
    await waitFor(() => expect(sync).toBeDisabled());
    expect(
      await screen.findByTestId('gitops-actions-denied'),
    ).toHaveTextContent(/You do not own this entity/);
    expect(screen.getByTestId('gitops-suspend-dev-podinfo')).toBeDisabled();
    expect(
      screen.getByTestId('gitops-sync-nosource-dev-podinfo'),
    ).toBeDisabled();
  });

  it('disables Sync on a suspended object and offers Resume', async () => {
    const api = fakeGitOpsApi();
    await renderFor(podinfoEntity, api);
    const sync = await screen.findByTestId('gitops-sync-prod-podinfo');
    expect(sync).toBeDisabled();
    const resume = screen.getByTestId('gitops-resume-prod-podinfo');
    await waitFor(() => expect(resume).toBeEnabled());
    fireEvent.click(resume);
    await waitFor(() =>
      expect(api.resume).toHaveBeenCalledWith('component:default/podinfo', {
        cluster: 'prod',
        kind: 'Kustomization',
        namespace: 'flux-system',
        name: 'podinfo',
      }),
    );
  });

  it('asks before suspending', async () => {
    const api = fakeGitOpsApi();
    await renderFor(podinfoEntity, api);
    const suspend = await screen.findByTestId('gitops-suspend-dev-podinfo');
    await waitFor(() => expect(suspend).toBeEnabled());
    fireEvent.click(suspend);
    const dialog = await screen.findByRole('dialog');
    expect(api.suspend).not.toHaveBeenCalled();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Suspend' }));
    await waitFor(() => expect(api.suspend).toHaveBeenCalledTimes(1));
  });

  it('clicking Sync reconciles with the source and follows the operation until it ends', async () => {
    const running = operation();
    const done = operation({
      status: 'failed',
      error: 'health check failed after 30s',
      finishedAt: new Date().toISOString(),
      steps: [
        ...running.steps,
        {
          type: 'fetched',
          at: new Date().toISOString(),
          object: {
            kind: 'GitRepository',
            namespace: 'flux-system',
            name: 'delivery',
          },
          revision: `main@sha1:${HEAD}`,
        },
      ],
    });
    const api = fakeGitOpsApi({
      reconcile: jest.fn(async () => [running]),
      getOperation: jest.fn(async () => done),
    });
    await renderFor(podinfoEntity, api);
    const sync = await screen.findByTestId('gitops-sync-dev-podinfo');
    await waitFor(() => expect(sync).toBeEnabled());
    fireEvent.click(sync);

    await waitFor(() =>
      expect(api.reconcile).toHaveBeenCalledWith('component:default/podinfo', {
        target: {
          cluster: 'dev',
          kind: 'Kustomization',
          namespace: 'flux-system',
          name: 'podinfo',
        },
        withSource: true,
      }),
    );
    expect(
      await screen.findByText(/requested GitRepository flux-system\/delivery/),
    ).toBeInTheDocument();
    expect(
      await screen.findByText('health check failed after 30s', undefined, {
        timeout: 3000,
      }),
    ).toBeInTheDocument();
    expect(
      screen.getByText(
        new RegExp(`fetched GitRepository .* at ${HEAD.slice(0, 7)}`),
      ),
    ).toBeInTheDocument();
    expect(api.getOperation).toHaveBeenCalledWith('op-1');
    // The operation's end refreshes the status and the history at once.
    await waitFor(() => expect(api.getStatus).toHaveBeenCalledTimes(2));
    await waitFor(() => expect(api.getAudit).toHaveBeenCalledTimes(2));
  });
});
