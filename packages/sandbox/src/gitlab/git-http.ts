import type { IncomingMessage, ServerResponse } from 'node:http';
import { GitHttpRequest, serveGitHttpBackend } from '../git';
import { authenticateGit, deployTokenReaches, GitActor } from './auth';
import { canReadCode, canSeeProject, GitLab } from './context';
import { AccessLevel, Project } from './state';

interface Denial {
  allowed: false;
  status: 401 | 403 | 404;
  message: string;
}

type Decision = { allowed: true; remoteUser?: string } | Denial;

function accessDenied(gitlab: GitLab): Denial {
  return {
    allowed: false,
    status: 401,
    message:
      'HTTP Basic: Access denied. If a password was provided for Git authentication, the ' +
      "password was incorrect or you're required to use a token instead of a password. If a " +
      'token was provided, it was either incorrect, expired, or improperly scoped. See ' +
      `${gitlab.url()}/help/topics/git/troubleshooting_git.md#error-on-git-fetch-http-basic-access-denied`,
  };
}

const PROJECT_NOT_FOUND: Denial = {
  allowed: false,
  status: 404,
  message:
    "The project you were looking for could not be found or you don't have permission to view it.",
};

function decide(
  gitlab: GitLab,
  actor: GitActor,
  project: Project | undefined,
  push: boolean,
): Decision {
  const { state } = gitlab;
  if (actor.kind === 'anonymous') {
    // Anonymous callers learn nothing about private projects: they are asked to sign in.
    return project && !push && canReadCode(state, undefined, project)
      ? { allowed: true }
      : accessDenied(gitlab);
  }
  if (!project) {
    return PROJECT_NOT_FOUND;
  }
  if (actor.kind === 'deploy-token') {
    const token = actor.token;
    if (!deployTokenReaches(state, token, project)) {
      return PROJECT_NOT_FOUND;
    }
    if (push || !token.scopes.includes('read_repository')) {
      return {
        allowed: false,
        status: 403,
        message: push
          ? 'You are not allowed to push code to this project.'
          : 'You are not allowed to download code from this project.',
      };
    }
    return { allowed: true, remoteUser: token.username };
  }
  if (!canSeeProject(state, actor.user, project)) {
    return PROJECT_NOT_FOUND;
  }
  if (push) {
    return actor.canPush &&
      state.projectAccess(actor.user, project) >= AccessLevel.Developer
      ? { allowed: true, remoteUser: actor.user.username }
      : {
          allowed: false,
          status: 403,
          message: 'You are not allowed to push code to this project.',
        };
  }
  return actor.canDownload && canReadCode(state, actor.user, project)
    ? { allowed: true, remoteUser: actor.user.username }
    : {
        allowed: false,
        status: 403,
        message: 'You are not allowed to download code from this project.',
      };
}

/** Serves Git smart HTTP for a project path, authenticating and authorizing like GitLab. */
export async function serveGit(
  gitlab: GitLab,
  req: IncomingMessage,
  res: ServerResponse,
  request: GitHttpRequest,
): Promise<void> {
  const actor = authenticateGit(gitlab, req.headers.authorization);
  const project = gitlab.state.project(request.repositoryPath);
  const decision = actor
    ? decide(gitlab, actor, project, request.service === 'git-receive-pack')
    : accessDenied(gitlab);
  if (!decision.allowed || !project) {
    const denied: Denial = decision.allowed ? PROJECT_NOT_FOUND : decision;
    res.writeHead(denied.status, {
      'Content-Type': 'text/plain; charset=utf-8',
      ...(denied.status === 401
        ? { 'WWW-Authenticate': 'Basic realm="GitLab"' }
        : {}),
    });
    res.end(denied.message);
    return;
  }
  await serveGitHttpBackend(req, res, {
    repository: project.repository,
    endpoint: request.endpoint,
    remoteUser: decision.remoteUser,
  });
}
