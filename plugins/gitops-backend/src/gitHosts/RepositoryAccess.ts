import {
  AuthService,
  BackstageCredentials,
} from '@backstage/backend-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { NotAllowedError, ServiceUnavailableError } from '@backstage/errors';
import { ParsedRepositoryUrl } from '@backstage-gitops/plugin-gitops-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { GitHosts } from './GitHosts';
import { describeGitHostError } from './gitlabApi';

/**
 * Holds what the backend does with its own Git host credentials for a person to what
 * that person could read themselves. A repository a user names (registration through
 * the API, bootstrap) is read with the backend's token afterwards: its heads and commits
 * shown on the entity's page, a deploy token made for Flux. So the user must be able to
 * read it on the host: a public repository, or one their own account may read.
 *
 * A user's account on a host is the `<hostname>/user-login` annotation of their user
 * entity (as Backstage's GitLab and GitHub org providers write it: a login or a profile
 * URL), else, when `gitops.repositoryAccess.loginFromEntityName` is set, the user
 * entity's name (what the `usernameMatchingUserEntityName` sign-in resolvers assume).
 */
export class RepositoryAccess {
  static fromConfig(
    config: Config,
    options: {
      hosts: Pick<GitHosts, 'for'>;
      catalog: CatalogService;
      auth: AuthService;
    },
  ): RepositoryAccess {
    return new RepositoryAccess({
      ...options,
      loginFromEntityName:
        config.getOptionalBoolean(
          'gitops.repositoryAccess.loginFromEntityName',
        ) ?? false,
    });
  }

  constructor(
    private readonly options: {
      hosts: Pick<GitHosts, 'for'>;
      catalog: CatalogService;
      auth: AuthService;
      loginFromEntityName: boolean;
    },
  ) {}

  /**
   * Throws NotAllowedError (403, naming why) unless the caller could read the repository
   * on its host. A repository on a host the backend has no credentials for is never read
   * with them, and a backend plugin calling for itself is trusted.
   */
  async requireReadable(
    repository: ParsedRepositoryUrl,
    credentials: BackstageCredentials,
  ): Promise<void> {
    if (!this.options.auth.isPrincipal(credentials, 'user')) return;
    const client = this.options.hosts.for(repository);
    if (!client) return;
    const { userEntityRef } = credentials.principal;
    let access;
    try {
      const login = await this.loginOf(userEntityRef, repository.host);
      access = await client.readAccess(repository, login);
    } catch (error) {
      throw new ServiceUnavailableError(
        `Could not check your access to ${repository.path} on ${
          repository.host
        }: ${describeGitHostError(error)}`,
      );
    }
    if (access && !access.readable) {
      throw new NotAllowedError(
        `${access.reason}: the backend reads a repository with its own credentials, so it takes only one you can read yourself`,
      );
    }
  }

  private async loginOf(
    userEntityRef: string,
    host: string,
  ): Promise<string | undefined> {
    const hostname = host.replace(/:\d+$/, '');
    const user = await this.options.catalog.getEntityByRef(userEntityRef, {
      credentials: await this.options.auth.getOwnServiceCredentials(),
    });
    const annotated = user?.metadata.annotations?.[`${hostname}/user-login`];
    if (annotated) return loginOfAnnotation(annotated);
    return this.options.loginFromEntityName
      ? parseEntityRef(userEntityRef).name
      : undefined;
  }
}

/** `alice` from `alice` or from a profile URL such as `https://gitlab.com/alice`. */
function loginOfAnnotation(value: string): string | undefined {
  if (!/^https?:\/\//.test(value)) return value.trim() || undefined;
  try {
    return (
      new URL(value).pathname.split('/').filter(Boolean).pop() || undefined
    );
  } catch {
    return undefined;
  }
}
