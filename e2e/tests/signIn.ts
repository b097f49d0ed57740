import { expect, Page } from '@playwright/test';

/**
 * Opens the app and enters as the guest. Waits for the sign-in page or the signed-in
 * app to show: checking for the Enter button once could run before the page rendered.
 */
export async function signInAsGuest(page: Page) {
  await page.goto('/');
  const enter = page.getByRole('button', { name: 'Enter' });
  const signedIn = page.getByRole('link', { name: 'Catalog' });
  await expect(enter.or(signedIn).first()).toBeVisible({ timeout: 30_000 });
  if (await enter.isVisible()) {
    await enter.click();
    await expect(signedIn.first()).toBeVisible({ timeout: 30_000 });
  }
}
