import type { RegistryAccessRequest } from '../oci';
import { authenticateBasic, deployTokenReaches } from './auth';
import { canReadCode, GitLab } from './context';
import { AccessLevel, GitLabState, Project } from './state';

/** Token scopes that let a user's token pull or push container images. */
const USER_SCOPES = {
  pull: ['api', 'read_registry'],
  push: ['api', 'write_registry'],
} as const;

const DEPLOY_TOKEN_SCOPE = {
  pull: 'read_registry',
  push: 'write_registry',
} as const;

/**
 * The project an image repository belongs to: `group/project` or
 * `group/project/<image name...>`, the longest project path that matches.
 */
function projectOfRepository(
  state: GitLabState,
  repository: string,
): Project | undefined {
  const segments = repository.split('/');
  // A project path has a namespace and a name, so it never looks like a numeric id.
  for (let length = segments.length; length >= 2; length--) {
    const project = state.project(segments.slice(0, length).join('/'));
    if (project) {
      return project;
    }
  }
  return undefined;
}

/**
 * Decides a container registry request as GitLab's registry authentication does:
 * deploy tokens of the project or an ancestor group with `read_registry`/`write_registry`,
 * user tokens (personal, project, group) with those scopes or `api` whose user may read
 * (pull) or is Developer+ (push), and anonymous pulls of public projects.
 */
export function authorizeRegistry(
  gitlab: GitLab,
  request: RegistryAccessRequest,
): boolean | 'unauthenticated' {
  const { state } = gitlab;
  const { repository, action } = request;
  const anonymous = request.username === '' && request.password === '';
  const owner = anonymous
    ? undefined
    : authenticateBasic(gitlab, request.username, request.password);
  if (!anonymous && !owner) {
    return 'unauthenticated';
  }
  if (repository === undefined) {
    return owner !== undefined || 'unauthenticated';
  }
  const project = projectOfRepository(state, repository);
  if (!owner) {
    return project !== undefined &&
      action === 'pull' &&
      canReadCode(state, undefined, project)
      ? true
      : 'unauthenticated';
  }
  if (!project) {
    return false;
  }
  if (owner.kind === 'deploy-token') {
    return (
      deployTokenReaches(state, owner.token, project) &&
      owner.token.scopes.includes(DEPLOY_TOKEN_SCOPE[action])
    );
  }
  const allowed: readonly string[] = USER_SCOPES[action];
  if (!owner.token.scopes.some(scope => allowed.includes(scope))) {
    return false;
  }
  return action === 'pull'
    ? canReadCode(state, owner.user, project)
    : state.projectAccess(owner.user, project) >= AccessLevel.Developer;
}
