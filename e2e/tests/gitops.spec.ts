import { expect, Page, test } from '@playwright/test';
import fs from 'fs';
import path from 'path';
import { signInAsGuest } from './signIn';
import { gitlabApi, screenshots, world } from './world';

async function headOfMain(): Promise<string> {
  const { body } = await gitlabApi<{ commit: { id: string } }>(
    '/projects/team%2Fdelivery/repository/branches/main',
  );
  return body.commit.id;
}

async function pushToDelivery(file: string, content: string): Promise<string> {
  const { control } = world();
  const response = await fetch(`${control.url}/demo/commits`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${control.token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      files: { [file]: content },
      message: `e2e: ${file}`,
    }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { sha: string }).sha;
}

async function setClusterFaults(cluster: string, faults: object) {
  const { control } = world();
  const response = await fetch(`${control.url}/clusters/${cluster}/faults`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${control.token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(faults),
  });
  expect(response.ok).toBe(true);
}

async function openGitOpsTab(page: Page, name: string) {
  await signInAsGuest(page);
  await page.goto(`/catalog/default/component/${name}/gitops`);
}

test.beforeAll(() => fs.mkdirSync(screenshots, { recursive: true }));

test('the guest syncs podinfo after a push and sees the new revision Ready', async ({
  page,
}) => {
  const head = await headOfMain();
  await openGitOpsTab(page, 'podinfo');
  for (const cluster of ['dev', 'prod']) {
    await expect(
      page.getByTestId(`gitops-revision-${cluster}-podinfo`),
    ).toContainText(head.slice(0, 7));
  }
  await page.screenshot({
    path: path.join(screenshots, 'gitops-tab.png'),
    fullPage: true,
  });

  const pushed = await pushToDelivery(
    'apps/podinfo/dev/e2e-note.yaml',
    `# pushed by the browser test at ${new Date().toISOString()}\n`,
  );
  const sync = page.getByTestId('gitops-sync-dev-podinfo');
  await expect(sync).toBeEnabled();
  await sync.click();
  await expect(page.getByText(/requested/i).first()).toBeVisible();
  await expect(page.getByTestId('gitops-revision-dev-podinfo')).toContainText(
    pushed.slice(0, 7),
    { timeout: 60_000 },
  );
  await page.screenshot({
    path: path.join(screenshots, 'gitops-synced.png'),
    fullPage: true,
  });
});

/** Reads the GitLab API of the sandbox as its admin. */
async function gitlabGet<T>(apiPath: string): Promise<T> {
  const { status, body } = await gitlabApi<T>(apiPath);
  expect(status).toBe(200);
  return body;
}

test('a push alone reaches the tab at once: hook, receiver, Ready, and success on the commit', async ({
  page,
}) => {
  // The backend registers the project hook itself, shortly after it starts.
  await expect
    .poll(
      async () =>
        (
          await gitlabGet<unknown[]>('/projects/team%2Fdelivery/hooks')
        ).length,
      { timeout: 60_000 },
    )
    .toBe(1);
  await openGitOpsTab(page, 'podinfo');
  await expect(page.getByTestId('gitops-receivers')).toBeVisible();

  const pushedAt = Date.now();
  const pushed = await pushToDelivery(
    'apps/podinfo/dev/e2e-push.yaml',
    `# pushed without a click at ${new Date().toISOString()}\n`,
  );
  for (const cluster of ['dev', 'prod']) {
    await expect(
      page.getByTestId(`gitops-revision-${cluster}-podinfo`),
    ).toContainText(pushed.slice(0, 7), { timeout: 30_000 });
  }
  // eslint-disable-next-line no-console
  console.log(`push → new revision on the tab: ${Date.now() - pushedAt} ms`);
  await expect(page.getByTestId('gitops-receivers')).toContainText(
    'receiver called',
  );
  await expect
    .poll(
      async () =>
        (
          await gitlabGet<Array<{ name: string; status: string }>>(
            `/projects/team%2Fdelivery/repository/commits/${pushed}/statuses`,
          )
        )
          .filter(status => status.name.endsWith('/flux-system/podinfo'))
          .map(status => `${status.name} ${status.status}`)
          .sort(),
      { timeout: 30_000 },
    )
    .toEqual([
      'gitops/dev/flux-system/podinfo success',
      'gitops/prod/flux-system/podinfo success',
    ]);
  await page.screenshot({
    path: path.join(screenshots, 'gitops-pushed.png'),
    fullPage: true,
  });
});

test('on the other team\u2019s entity the actions are disabled with the reason', async ({
  page,
}) => {
  await openGitOpsTab(page, 'payments');
  const sync = page.getByTestId('gitops-sync-dev-payments');
  await expect(sync).toBeVisible();
  await expect(sync).toBeDisabled();
  await expect(page.getByTestId('gitops-actions-denied')).toContainText(
    'You do not own this entity',
  );
  await page.screenshot({
    path: path.join(screenshots, 'gitops-not-owner.png'),
    fullPage: true,
  });
});

test('with one cluster down the tab marks it stale and keeps the other usable', async ({
  page,
}) => {
  await setClusterFaults('prod', { down: true });
  try {
    await openGitOpsTab(page, 'podinfo');
    await expect(page.getByTestId('gitops-stale-prod')).toBeVisible({
      timeout: 30_000,
    });
    // The last known prod data stays on screen; dev is fresh and actionable.
    await expect(
      page.getByTestId('gitops-revision-prod-podinfo'),
    ).toBeVisible();
    await expect(page.getByTestId('gitops-stale-dev')).toHaveCount(0);
    await expect(page.getByTestId('gitops-revision-dev-podinfo')).toBeVisible();
    await expect(page.getByTestId('gitops-sync-dev-podinfo')).toBeEnabled();
    await page.screenshot({
      path: path.join(screenshots, 'gitops-cluster-down.png'),
      fullPage: true,
    });
  } finally {
    await setClusterFaults('prod', { down: false });
  }
});
