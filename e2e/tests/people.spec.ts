import {
  APIRequestContext,
  expect,
  Page,
  request,
  test,
} from '@playwright/test';
import fs from 'fs';
import path from 'path';
import { navigateInApp, signInWithGitLab } from './signIn';
import { gitlabApi, repoRoot, screenshots } from './world';

const BACKEND = 'http://localhost:7007';

interface Identity {
  token: string;
  identity: { userEntityRef: string; ownershipEntityRefs: string[] };
}

/**
 * The signed-in person's Backstage identity and token, as the app gets them: the GitLab
 * provider's refresh endpoint, with the session cookie the sign-in left in the browser.
 */
async function backstageIdentity(page: Page): Promise<Identity> {
  const response = await page.request.get(
    `${BACKEND}/api/auth/gitlab/refresh?optional&env=development`,
    { headers: { 'x-requested-with': 'XMLHttpRequest' } },
  );
  expect(response.status()).toBe(200);
  return (await response.json()).backstageIdentity;
}

interface Cluster {
  apiUrl: string;
  tokens: { admin: string };
}

/** Every GitRepository and Kustomization on a cluster, seen by its administrator. */
async function fluxObjects(
  api: APIRequestContext,
  cluster: Cluster,
): Promise<string[]> {
  const names: string[] = [];
  for (const [group, plural] of [
    ['source.toolkit.fluxcd.io', 'gitrepositories'],
    ['kustomize.toolkit.fluxcd.io', 'kustomizations'],
  ]) {
    const response = await api.get(
      `${cluster.apiUrl}/apis/${group}/v1/${plural}`,
      {
        headers: { authorization: `Bearer ${cluster.tokens.admin}` },
      },
    );
    expect(response.status()).toBe(200);
    const list = (await response.json()) as {
      items: Array<{ metadata: { namespace: string; name: string } }>;
    };
    names.push(
      ...list.items.map(
        item => `${plural}/${item.metadata.namespace}/${item.metadata.name}`,
      ),
    );
  }
  return names.sort();
}

/** What a bootstrap would write: Flux objects on each cluster, a deploy token, a registration. */
async function everythingWritable(
  page: Page,
  api: APIRequestContext,
  token: string,
) {
  const clusters: Record<string, Cluster> = JSON.parse(
    fs.readFileSync(path.join(repoRoot, '.sandbox', 'world.json'), 'utf8'),
  ).clusters;
  const deployTokens = await gitlabApi<Array<{ name: string }>>(
    '/projects/team%2Fdelivery/deploy_tokens',
  );
  const registrations = await page.request.get(
    `${BACKEND}/api/gitops/delivery-repositories?entityRef=${encodeURIComponent(
      'component:default/podinfo',
    )}`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  return {
    flux: Object.fromEntries(
      await Promise.all(
        Object.entries(clusters).map(
          async ([name, cluster]) =>
            [name, await fluxObjects(api, cluster)] as const,
        ),
      ),
    ),
    deployTokens: deployTokens.body.map(t => t.name).sort(),
    registrations: await registrations.json(),
  };
}

test.beforeAll(() => fs.mkdirSync(screenshots, { recursive: true }));

test('alice of the payments team, signed in with GitLab, is refused podinfo’s actions with the reason, and her bootstraps outside her team write nothing', async ({
  page,
}) => {
  await signInWithGitLab(page, 'alice');
  const { token, identity } = await backstageIdentity(page);
  expect(identity.userEntityRef).toBe('user:default/alice');
  expect([...identity.ownershipEntityRefs].sort()).toEqual([
    'group:default/team-payments',
    'user:default/alice',
  ]);

  // The tab offers the actions but refuses them, saying why.
  await navigateInApp(page, '/catalog/default/component/podinfo/gitops');
  const sync = page.getByTestId('gitops-sync-dev-podinfo');
  await expect(sync).toBeVisible({ timeout: 30_000 });
  await expect(sync).toBeDisabled();
  await expect(page.getByTestId('gitops-actions-denied')).toContainText(
    'You do not own this entity: syncing it needs the gitops.entity.reconcile permission',
  );
  await page.screenshot({
    path: path.join(screenshots, 'people-alice-refused.png'),
    fullPage: true,
  });

  // Her own team's service she may sync.
  await navigateInApp(page, '/catalog/default/component/payments/gitops');
  await expect(page.getByTestId('gitops-sync-dev-payments')).toBeEnabled({
    timeout: 30_000,
  });
  await expect(page.getByTestId('gitops-actions-denied')).toHaveCount(0);

  // The backend refuses the same, whatever the UI shows: a sync of podinfo, and
  // bootstraps for podinfo or into a namespace that is not her team's.
  const api = await request.newContext({ ignoreHTTPSErrors: true });
  try {
    const before = await everythingWritable(page, api, token);
    const post = (route: string, data: object) =>
      page.request.post(`${BACKEND}/api/gitops${route}`, {
        headers: { authorization: `Bearer ${token}` },
        data,
      });
    const reconcile = await post(
      '/entities/component/default/podinfo/reconcile',
      {
        target: {
          cluster: 'dev',
          kind: 'Kustomization',
          namespace: 'flux-system',
          name: 'podinfo',
        },
      },
    );
    expect(reconcile.status()).toBe(403);
    expect((await reconcile.json()).error).toMatchObject({
      name: 'NotAllowedError',
      message:
        'Not allowed to gitops.entity.reconcile on component:default/podinfo',
    });

    const repository = 'http://127.0.0.1:7101/team/delivery.git';
    for (const [what, body, reason] of [
      [
        'podinfo, another team’s',
        {
          entityRef: 'component:default/podinfo',
          url: repository,
          clusters: [{ name: 'dev', path: './apps/podinfo/dev' }],
        },
        'Not allowed to gitops.entity.manage on component:default/podinfo',
      ],
      [
        'payments, into the apps team’s namespace',
        {
          entityRef: 'component:default/payments',
          url: repository,
          clusters: [
            {
              name: 'dev',
              path: './apps/payments/dev',
              namespace: 'team-apps',
            },
          ],
        },
        "Namespace team-apps on cluster dev is not the tenant namespace of component:default/payments's owner (team-payments)",
      ],
    ] as const) {
      const refused = await post('/flux/bootstrap', body);
      expect(refused.status(), what).toBe(403);
      const { error } = await refused.json();
      expect(error.name, what).toBe('NotAllowedError');
      expect(error.message, what).toBe(reason);
    }
    expect(await everythingWritable(page, api, token)).toEqual(before);
  } finally {
    await api.dispose();
  }
});

test('the guest, signed in with GitLab, may sync podinfo', async ({ page }) => {
  await signInWithGitLab(page, 'guest');
  const { identity } = await backstageIdentity(page);
  expect(identity.userEntityRef).toBe('user:default/guest');
  expect(identity.ownershipEntityRefs).toContain('group:default/team-apps');
  await navigateInApp(page, '/catalog/default/component/podinfo/gitops');
  const sync = page.getByTestId('gitops-sync-dev-podinfo');
  await expect(sync).toBeEnabled({ timeout: 30_000 });
  await expect(page.getByTestId('gitops-actions-denied')).toHaveCount(0);
  await sync.click();
  await expect(page.getByText(/requested/i).first()).toBeVisible();
});
