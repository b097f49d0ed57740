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

/**
 * Signs in with GitLab as a person of the sandbox GitLab, as a newcomer does: the
 * sign-in page's GitLab card opens a popup, the backend sends it to the sandbox GitLab's
 * authorize page, the person is picked there, and GitLab sends the popup back to the
 * backend, which signs the app in and closes it.
 */
export async function signInWithGitLab(page: Page, username: string) {
  await page.goto('/');
  const gitlab = page
    .getByRole('listitem')
    .filter({ hasText: 'Sign in using GitLab' })
    .getByRole('button', { name: 'Sign In' });
  await expect(gitlab).toBeVisible({ timeout: 30_000 });
  const popupOpened = page.waitForEvent('popup');
  await gitlab.click();
  const popup = await popupOpened;
  await expect(
    popup.getByRole('heading', { name: /Sign in to the sandbox GitLab as/ }),
  ).toBeVisible({ timeout: 30_000 });
  await popup
    .getByRole('button', { name: new RegExp(`\\(@${username}\\)$`) })
    .click();
  await expect(page.getByRole('link', { name: 'Catalog' }).first()).toBeVisible(
    { timeout: 30_000 },
  );
}

/**
 * Goes to a page of the app without reloading it, as a click on a link does: the session
 * the sign-in made stays in the page (a reload would restore it from the refresh cookie).
 */
export async function navigateInApp(page: Page, path: string) {
  await page.evaluate(to => {
    window.history.pushState({}, '', to);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}
