import {
  ApiError,
  notFound,
  paginate,
  Params,
  RequestContext,
  Router,
} from '../api';
import { DEPLOY_TOKEN_SCOPES } from '../auth';
import { findGroupWithAccess, findProjectWithAccess, GitLab } from '../context';
import { deployKeyEntity, deployTokenEntity } from '../entities';
import { createDeployToken } from '../operations';
import { parseSshPublicKey } from '../ssh-keys';
import { AccessLevel, DeployKey, DeployToken } from '../state';

/** Deploy tokens of projects and groups, and project deploy keys. */
export function deployRoutes(router: Router, gitlab: GitLab): void {
  const { state, clock } = gitlab;

  const tokenRoutes = (
    base: 'projects' | 'groups',
    owner: (
      context: RequestContext,
    ) => { projectId: number } | { groupId: number },
  ) => {
    const ownedBy = (
      token: DeployToken,
      key: { projectId: number } | { groupId: number },
    ) =>
      'projectId' in key
        ? token.projectId === key.projectId
        : token.groupId === key.groupId;
    const findToken = (context: RequestContext) => {
      const key = owner(context);
      const token = state.deployTokens.get(Number(context.params.token_id));
      if (!token || !ownedBy(token, key)) {
        throw notFound('Deploy Token');
      }
      return token;
    };

    router.get(`${base}/:id/deploy_tokens`, context => {
      const key = owner(context);
      const params = new Params(context.input);
      const active = params.boolean('active');
      params.check();
      const now = clock.now();
      const tokens = [...state.deployTokens.values()].filter(
        t =>
          ownedBy(t, key) &&
          (active === undefined ||
            active ===
              (!t.revoked && (t.expiresAt === null || t.expiresAt > now))),
      );
      return paginate(context, tokens, t => deployTokenEntity(t, now));
    });

    router.get(`${base}/:id/deploy_tokens/:token_id`, context => ({
      body: deployTokenEntity(findToken(context), clock.now()),
    }));

    router.post(`${base}/:id/deploy_tokens`, context => {
      const key = owner(context);
      const params = new Params(context.input);
      const name = params.string('name', { required: true })!;
      const scopes = params.stringArray('scopes', {
        required: true,
        values: DEPLOY_TOKEN_SCOPES,
      })!;
      const expiresAt = params.dateTime('expires_at');
      const username = params.string('username');
      params.check();
      const { record, value } = createDeployToken(gitlab, key, {
        name,
        scopes,
        expiresAt,
        username,
      });
      return {
        status: 201,
        body: { ...deployTokenEntity(record, clock.now()), token: value },
      };
    });

    router.delete(`${base}/:id/deploy_tokens/:token_id`, context => {
      state.deployTokens.delete(findToken(context).id);
      return { status: 204, body: undefined };
    });
  };

  tokenRoutes('projects', context => ({
    projectId: findProjectWithAccess(gitlab, context, AccessLevel.Maintainer)
      .id,
  }));
  tokenRoutes('groups', context => ({
    groupId: findGroupWithAccess(gitlab, context, AccessLevel.Maintainer).id,
  }));

  const keyLinks = (projectId: number) => {
    const links =
      state.deployKeyLinks.get(projectId) ?? new Map<number, boolean>();
    state.deployKeyLinks.set(projectId, links);
    return links;
  };
  const findKey = (context: RequestContext) => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const id = Number(context.params.key_id);
    const key = state.deployKeys.get(id);
    const canPush = keyLinks(project.id).get(id);
    if (!key || canPush === undefined) {
      throw notFound('Deploy Key');
    }
    return { project, key, canPush };
  };

  router.get('projects/:id/deploy_keys', context => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const linked = [...keyLinks(project.id)].map(([id, canPush]) => ({
      key: state.deployKeys.get(id)!,
      canPush,
    }));
    return paginate(context, linked, ({ key, canPush }) =>
      deployKeyEntity(key, canPush),
    );
  });

  router.get('projects/:id/deploy_keys/:key_id', context => {
    const { key, canPush } = findKey(context);
    return { body: deployKeyEntity(key, canPush) };
  });

  router.post('projects/:id/deploy_keys', context => {
    const project = findProjectWithAccess(
      gitlab,
      context,
      AccessLevel.Maintainer,
    );
    const params = new Params(context.input);
    const title = params.string('title', { required: true })!;
    const keyText = params.string('key', { required: true })!;
    const canPush = params.boolean('can_push') ?? false;
    params.check();
    const parsed = parseSshPublicKey(keyText);
    if (!parsed) {
      throw new ApiError(400, {
        message: {
          key: [
            'type is forbidden. Must be RSA, DSA, ECDSA, ED25519, ECDSA_SK, or ED25519_SK',
            'is invalid',
          ],
          fingerprint_sha256: ['cannot be generated'],
        },
      });
    }
    const links = keyLinks(project.id);
    // Like GitLab, a key already known (in this or another project) is linked, not duplicated.
    let key = [...state.deployKeys.values()].find(
      k => k.fingerprintSha256 === parsed.fingerprintSha256,
    );
    if (key && links.has(key.id)) {
      return { status: 201, body: deployKeyEntity(key, links.get(key.id)!) };
    }
    if (!key) {
      const created: DeployKey = {
        id: state.nextId('deploy_key'),
        title,
        key: keyText.trim(),
        fingerprint: parsed.fingerprint,
        fingerprintSha256: parsed.fingerprintSha256,
        createdAt: clock.now(),
      };
      state.deployKeys.set(created.id, created);
      key = created;
    }
    links.set(key.id, canPush);
    return { status: 201, body: deployKeyEntity(key, canPush) };
  });

  router.delete('projects/:id/deploy_keys/:key_id', context => {
    const { project, key } = findKey(context);
    keyLinks(project.id).delete(key.id);
    const stillUsed = [...state.deployKeyLinks.values()].some(links =>
      links.has(key.id),
    );
    if (!stillUsed) {
      state.deployKeys.delete(key.id);
    }
    return { status: 204, body: undefined };
  });
}
