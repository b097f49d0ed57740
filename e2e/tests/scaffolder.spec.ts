import { expect, test } from '@playwright/test';
import fs from 'fs';
import path from 'path';
import yaml from 'yaml';
import { signInAsGuest } from './signIn';
import { gitlabApi as gitlab, repoRoot } from './world';

const templateDir = path.join(
  repoRoot,
  'examples',
  'templates',
  'new-delivery-repository',
);

/** Every file of a template folder, as the scaffolder's dry run takes them. */
function directoryContents(dir: string, prefix = '') {
  const files: Array<{ path: string; base64Content: string }> = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      files.push(...directoryContents(full, relative));
    } else {
      files.push({
        path: relative,
        base64Content: fs.readFileSync(full).toString('base64'),
      });
    }
  }
  return files;
}

test('from Create, the template makes a delivery repository that is Ready on dev, and a push reconciles it at once', async ({
  page,
}) => {
  const name = `svc-${Date.now().toString(36)}`;
  await signInAsGuest(page);
  await page.goto('/create');
  await page
    .getByRole('article')
    .filter({ hasText: 'New delivery repository' })
    .getByRole('button', { name: 'Choose' })
    .click();

  await page.getByRole('textbox', { name: /^Name/ }).fill(name);
  const owner = page.getByRole('textbox', { name: 'Owner' });
  await owner.click();
  await owner.fill('team-apps');
  await page.getByRole('option', { name: /team-apps/ }).click();
  await page.getByRole('button', { name: 'Next' }).click();

  // Typed, as a person does: the picker builds its value from key strokes.
  await page.getByRole('textbox', { name: /^Owner/ }).pressSequentially('team');
  const repository = page.getByRole('textbox', { name: /^Repository/ });
  await repository.click();
  await repository.pressSequentially(name);
  await repository.press('Tab');
  await page.getByRole('button', { name: 'Review' }).click();
  await page.getByRole('button', { name: 'Create' }).click();

  await expect(page.getByText('Ready on: dev')).toBeVisible({
    timeout: 90_000,
  });

  await page.goto(`/catalog/default/component/${name}/gitops`);
  const revision = page.getByTestId(`gitops-revision-dev-${name}`);
  await expect(revision).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('gitops-receivers')).toContainText(
    `gitops-git-${name}`,
  );

  // The backend gives the new repository its push hook (a task every minute).
  const project = encodeURIComponent(`team/${name}`);
  await expect
    .poll(
      async () => (await gitlab<unknown[]>(`/projects/${project}/hooks`)).body,
      { timeout: 90_000 },
    )
    .toHaveLength(1);

  const pushedAt = Date.now();
  const pushed = await gitlab<{ id: string }>(
    `/projects/${project}/repository/commits`,
    {
      method: 'POST',
      body: {
        branch: 'main',
        commit_message: 'dev: a greeting of its own',
        actions: [
          {
            action: 'create',
            file_path: 'deploy/dev/greeting.txt',
            content: `pushed at ${new Date().toISOString()}\n`,
          },
        ],
      },
    },
  );
  expect(pushed.status).toBe(201);
  // The source polls every 10 minutes: only the webhook makes this fast.
  await expect(revision).toContainText(pushed.body.id.slice(0, 7), {
    timeout: 30_000,
  });
  // eslint-disable-next-line no-console
  console.log(`push → new revision on the tab: ${Date.now() - pushedAt} ms`);
});

test('a dry run with bad input fails with a clear message and creates nothing', async ({
  request,
}) => {
  const { token } = (
    await (
      await request.get('http://localhost:7007/api/auth/guest/refresh', {
        headers: { 'x-requested-with': 'XMLHttpRequest' },
      })
    ).json()
  ).backstageIdentity;
  const template = yaml.parse(
    fs.readFileSync(path.join(templateDir, 'template.yaml'), 'utf8'),
  );
  const dryRun = (values: Record<string, unknown>) =>
    request.post('http://localhost:7007/api/scaffolder/v2/dry-run', {
      headers: { authorization: `Bearer ${token}` },
      data: {
        // The YAML as the template editor sends it; the cluster enum is lifted so the
        // backend is the one to refuse an unknown cluster.
        template: { ...template, spec: { ...template.spec, parameters: [] } },
        values,
        directoryContents: directoryContents(templateDir),
      },
    });
  const name = `dry-${Date.now().toString(36)}`;
  const base = {
    name,
    owner: 'group:default/team-apps',
    repoUrl: `127.0.0.1:7101?owner=team&repo=${name}`,
    clusters: ['dev'],
    source: 'git',
  };

  const unknownCluster = await dryRun({ ...base, clusters: ['staging'] });
  const unknownLog = JSON.stringify(await unknownCluster.json());
  expect(unknownLog).toContain('Unknown cluster \\"staging\\"');

  const badName = await dryRun({ ...base, name: 'Not_A_Name' });
  expect(JSON.stringify(await badName.json())).toContain(
    'is not a valid Flux object name',
  );

  const good = await dryRun(base);
  const goodLog = JSON.stringify(await good.json());
  expect(goodLog).toContain('would apply GitRepository');

  // Nothing of it exists: no project, no entity.
  expect(
    (await gitlab(`/projects/${encodeURIComponent(`team/${name}`)}`)).status,
  ).toBe(404);
});
