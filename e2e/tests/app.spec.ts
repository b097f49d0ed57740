import { expect, test } from '@playwright/test';
import fs from 'fs';
import path from 'path';
import { signInAsGuest } from './signIn';
import { screenshots } from './world';

test.beforeAll(() => fs.mkdirSync(screenshots, { recursive: true }));

test('the catalog lists the example entities', async ({ page }) => {
  await signInAsGuest(page);
  // "All" rather than the default "Owned": payments belongs to another team.
  await page.getByTestId('user-picker-all').click();
  await expect(
    page.getByRole('link', { name: 'podinfo', exact: true }),
  ).toBeVisible();
  await expect(
    page.getByRole('link', { name: 'payments', exact: true }),
  ).toBeVisible();
  await expect(
    page.getByRole('link', { name: 'storefront', exact: true }),
  ).toBeVisible();
});

test('an example entity shows the GitOps card on its overview and a GitOps tab', async ({
  page,
}) => {
  await signInAsGuest(page);
  await page.getByRole('link', { name: 'podinfo', exact: true }).click();
  // The new frontend system places the plugin's entity card on the overview.
  for (const cluster of ['dev', 'prod']) {
    await expect(
      page.getByTestId(`gitops-card-cluster-${cluster}`),
    ).toBeVisible();
  }
  await expect(page.getByTestId('gitops-card-sync')).toBeVisible();
  await page.screenshot({
    path: path.join(screenshots, 'gitops-overview-card.png'),
    fullPage: true,
  });
  await page.getByRole('link', { name: 'GitOps', exact: true }).click();
  // The Delivery card's settings (the repository line under them also names the URL).
  await expect(
    page.getByText('http://127.0.0.1:7101/team/delivery.git', { exact: true }),
  ).toBeVisible();
  await expect(page.getByText('apps/podinfo', { exact: true })).toBeVisible();
  await page.screenshot({
    path: path.join(screenshots, 'gitops-tab-first-visit.png'),
    fullPage: true,
  });
});

test('the backend answers health without a token', async ({ request }) => {
  const response = await request.get('http://localhost:7007/api/gitops/health');
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok' });
});
