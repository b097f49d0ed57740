import { BACKSTAGE_USER, SandboxWorld } from '@backstage-gitops/sandbox';

const backendGitLabUsers = new WeakMap<SandboxWorld, Promise<string>>();

/** The GitLab user the backend's integration token (the world's admin token) acts as. */
function backendGitLabUser(world: SandboxWorld): Promise<string> {
  let user = backendGitLabUsers.get(world);
  if (!user) {
    user = fetch(`${world.gitlab.url}/api/v4/user`, {
      headers: { 'PRIVATE-TOKEN': world.demo.tokens.gitlabAdmin },
    })
      .then(res => res.json())
      .then(body => (body as { username: string }).username);
    backendGitLabUsers.set(world, user);
  }
  return user;
}

/**
 * Runs an attempt and shows the backend sent nothing for it: no request with its token
 * reached the world's GitLab (the sandbox's Flux talks to GitLab on its own), and no
 * call to any of its clusters. What the backend was still doing beforehand (a cache's
 * watch opening) settles first.
 */
export async function sendsNothing<T>(
  world: SandboxWorld,
  attempt: () => Promise<T>,
): Promise<T> {
  const gitlabUser = await backendGitLabUser(world);
  const clusterCalls = () =>
    [...world.clusters.values()]
      .map(cluster => cluster.api.requestsBy(BACKSTAGE_USER))
      .join();
  let before = clusterCalls();
  for (let quiet = false; !quiet; ) {
    await new Promise(resolve => setTimeout(resolve, 200));
    const now = clusterCalls();
    quiet = now === before;
    before = now;
  }
  const gitlabMark = world.gitlab.requestsServed();
  const result = await attempt();
  expect(
    world.gitlab
      .requestsSince(gitlabMark)
      .filter(request => request.user === gitlabUser),
  ).toEqual([]);
  expect(clusterCalls()).toEqual(before);
  return result;
}
