import fs from 'fs';
import path from 'path';

/** The repository's root, where the demo stack keeps its state (`.sandbox/`). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** Where the tests leave their screenshots (the README's come from here). */
export const screenshots = path.join(
  repoRoot,
  '.sandbox',
  'test-results',
  'screenshots',
);

/** What the running sandbox world wrote about itself: endpoints, tokens, controls. */
export interface World {
  control: { url: string; token: string };
  gitlab: {
    url: string;
    apiUrl: string;
    adminToken: string;
    deliveryProject: { httpUrl: string };
  };
}

export function world(): World {
  return JSON.parse(
    fs.readFileSync(path.join(repoRoot, '.sandbox', 'world.json'), 'utf8'),
  );
}

/** A call to the sandbox GitLab's API as its administrator. */
export async function gitlabApi<T>(
  apiPath: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const { gitlab } = world();
  const response = await fetch(`${gitlab.apiUrl}${apiPath}`, {
    method: init.method ?? 'GET',
    headers: {
      'PRIVATE-TOKEN': gitlab.adminToken,
      'content-type': 'application/json',
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as T };
}
