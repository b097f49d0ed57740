import { ScmIntegrations } from '@backstage/integration';
import { TokenRecord } from '@backstage-gitops/plugin-gitops-common';
import type { AccessTokenScopes, DeployTokenScope } from '@gitbeaker/rest';
import { utils as sshUtils } from 'ssh2';
import { z } from 'zod';
import { GitLabApi, gitlabApiFor } from '../gitHosts/gitlabApi';

/** A credential just created on the Git host; `value` is written to Secrets, never kept. */
export interface IssuedCredential {
  kind: TokenRecord['kind'];
  host: string;
  hostId: string;
  owner: NonNullable<TokenRecord['owner']>;
  name: string;
  /** Deploy tokens: the username to pair it with. */
  username?: string;
  /** The token, or the SSH private key (OpenSSH format). */
  value: string;
  /** SSH only: the public key line, for `identity.pub`. */
  publicKey?: string;
}

/** What to create: the kind and where, with the least privilege its use needs. */
export interface CredentialSpec {
  kind:
    | 'deploy-token'
    | 'deploy-key'
    | 'project-access-token'
    | 'group-access-token';
  host: string;
  owner: NonNullable<TokenRecord['owner']>;
  name: string;
  scopes: string[];
  /** YYYY-MM-DD; GitLab requires one for access tokens. */
  expiresAt: string;
}

const created = z.object({
  id: z.number(),
  token: z.string().optional(),
  username: z.string().optional(),
});

const REPORTER = 20;

/**
 * Creates and revokes credentials on a GitLab of `integrations.gitlab`, with the
 * integration's token: deploy tokens, read-only deploy keys (the key pair is generated
 * here), and project or group access tokens (role Reporter, enough to post statuses).
 */
export class GitLabCredentialIssuer {
  constructor(private readonly integrations: ScmIntegrations) {}

  async issue(spec: CredentialSpec): Promise<IssuedCredential> {
    const api = this.api(spec.host);
    const base = {
      kind: spec.kind,
      host: spec.host,
      owner: spec.owner,
      name: spec.name,
    };
    const where =
      spec.owner.type === 'group'
        ? { groupId: spec.owner.path }
        : { projectId: spec.owner.path };
    switch (spec.kind) {
      case 'deploy-token': {
        const token = created.parse(
          await api.DeployTokens.create(
            spec.name,
            spec.scopes as DeployTokenScope[],
            { ...where, expires_at: spec.expiresAt } as Parameters<
              GitLabApi['DeployTokens']['create']
            >[2],
          ),
        );
        return {
          ...base,
          hostId: String(token.id),
          username: token.username,
          value: token.token!,
        };
      }
      case 'deploy-key': {
        const pair = sshUtils.generateKeyPairSync('ed25519', {
          comment: spec.name,
        });
        const key = created.parse(
          await api.DeployKeys.create(spec.owner.path, spec.name, pair.public, {
            canPush: false,
          }),
        );
        return {
          ...base,
          hostId: String(key.id),
          value: pair.private,
          publicKey: pair.public,
        };
      }
      default: {
        const tokens =
          spec.kind === 'group-access-token'
            ? api.GroupAccessTokens
            : api.ProjectAccessTokens;
        const token = created.parse(
          await tokens.create(
            spec.owner.path,
            spec.name,
            spec.scopes as AccessTokenScopes[],
            spec.expiresAt,
            { accessLevel: REPORTER },
          ),
        );
        return { ...base, hostId: String(token.id), value: token.token! };
      }
    }
  }

  /** Revokes a credential; one already gone is not an error. */
  async revoke(
    credential: Pick<IssuedCredential, 'kind' | 'host' | 'hostId' | 'owner'>,
  ): Promise<void> {
    const api = this.api(credential.host);
    const id = Number(credential.hostId);
    const { owner } = credential;
    try {
      switch (credential.kind) {
        case 'deploy-token':
          await api.DeployTokens.remove(
            id,
            (owner.type === 'group'
              ? { groupId: owner.path }
              : { projectId: owner.path }) as Parameters<
              GitLabApi['DeployTokens']['remove']
            >[1],
          );
          return;
        case 'deploy-key':
          await api.DeployKeys.remove(owner.path, id);
          return;
        case 'group-access-token':
          await api.GroupAccessTokens.revoke(owner.path, id);
          return;
        case 'project-access-token':
          await api.ProjectAccessTokens.revoke(owner.path, id);
          return;
        default:
          throw new Error(`A ${credential.kind} is not revoked by the backend`);
      }
    } catch (error) {
      const status = (error as { cause?: { response?: { status?: number } } })
        ?.cause?.response?.status;
      if (status !== 404) throw error;
    }
  }

  private api(host: string): GitLabApi {
    const api = gitlabApiFor(this.integrations, host);
    if (!api) throw new Error(`No GitLab integration for ${host}`);
    return api;
  }
}
