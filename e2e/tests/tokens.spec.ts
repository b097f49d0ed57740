import { expect, test } from '@playwright/test';
import fs from 'fs';
import path from 'path';
import { signInAsGuest } from './signIn';
import { gitlabApi, screenshots } from './world';

/** The demo's read-only deploy token, as the clusters' Secrets first hold it. */
async function deployTokenIds(): Promise<number[]> {
  const { body: tokens } = await gitlabApi<
    Array<{ id: number; name: string; revoked: boolean }>
  >('/projects/team%2Fdelivery/deploy_tokens');
  return tokens
    .filter(token => token.name === 'flux-read' && !token.revoked)
    .map(token => token.id);
}

test.beforeAll(() => fs.mkdirSync(screenshots, { recursive: true }));

test('the token page shows the demo credentials and the finding; Rotate now replaces the deploy token', async ({
  page,
}) => {
  await signInAsGuest(page);
  await page.goto('/gitops/tokens');
  // The inventory runs 20 s after the backend starts: read the page again until it has.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('gitops-token-flux-read')).toBeVisible({
      timeout: 5_000,
    });
  }).toPass({ timeout: 90_000 });
  await expect(
    page.getByTestId('gitops-token-flux-commit-status'),
  ).toBeVisible();
  const pat = page.getByTestId('gitops-token-flux-prod-pull');
  await expect(pat.getByTestId('gitops-finding-api-scope')).toContainText(
    'deploy token with read_repository/read_registry',
  );
  await page.screenshot({
    path: path.join(screenshots, 'gitops-tokens.png'),
    fullPage: true,
  });

  const [before] = await deployTokenIds();
  await page.getByTestId('gitops-rotate-flux-read').click();
  await expect(page.getByText(/Rotated "flux-read"/)).toBeVisible({
    timeout: 60_000,
  });
  await expect(
    page.getByTestId('gitops-token-flux-read').getByText(/rotated/),
  ).toBeVisible();
  const after = await deployTokenIds();
  expect(after).toHaveLength(1);
  expect(after[0]).not.toBe(before);
});

test('the entity tab lists its credentials in the Tokens card', async ({
  page,
}) => {
  await signInAsGuest(page);
  await page.goto('/catalog/default/component/storefront/gitops');
  const pat = page.getByTestId('gitops-token-flux-prod-pull');
  await expect(pat).toBeVisible();
  await expect(pat.getByTestId('gitops-finding-personal-token')).toBeVisible();
});
