import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  gitopsEntityReadPermission,
  gitopsTokensManagePermission,
  gitopsTokensReadPermission,
} from '@backstage-gitops/plugin-gitops-common';
import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { TokenStore } from '../database/TokenStore';
import {
  canonicalEntityRef,
  entityForRequest,
  parseInput,
  requireBasicPermission,
} from '../service/requestHelpers';
import { tokenFindings } from './findings';
import { TokenRotator } from './TokenRotator';
import { pageOf, readPage } from '../service/paging';

const DEFAULT_EXPIRING_WITHIN_DAYS = 30;

/** `gitops.tokens.expiringWithinDays`: how early the report flags an expiry. */
export function readExpiringWithinDays(config: Config): number {
  const days =
    config.getOptionalNumber('gitops.tokens.expiringWithinDays') ??
    DEFAULT_EXPIRING_WITHIN_DAYS;
  if (!Number.isInteger(days) || days < 0) {
    throw new Error(
      `gitops.tokens.expiringWithinDays must be a whole number of days, got ${days}`,
    );
  }
  return days;
}

const listQuery = z
  .object({
    entityRef: z.string().optional(),
    limit: z.unknown(),
    offset: z.unknown(),
  })
  .strict();
const createBody = z
  .object({
    /** The delivery repository (Git or `oci://` URL) the credential is for. */
    repository: z.string().min(1).max(2048),
    purpose: z.enum(['read', 'commit-status']),
  })
  .strict();
const idParam = z.string().regex(/^[0-9a-f]{20}$/, 'is not a token id');

/**
 * `GET /tokens`, `GET /tokens/report` (`gitops.tokens.read`) and
 * `GET /entities/.../tokens` (also `gitops.entity.read` on the entity): the credentials
 * Flux uses, as the inventory last saw them, and what is wrong with them. Metadata
 * and fingerprints only. `POST /tokens` (create) and `POST /tokens/{id}/rotate`
 * (`gitops.tokens.manage`) change them, answering when the sources are Ready again.
 */
export function createTokenRoutes(options: {
  store: Pick<TokenStore, 'list' | 'listUnreadable'>;
  rotator: Pick<TokenRotator, 'create' | 'rotate'>;
  expiringWithinDays: number;
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { store, rotator, expiringWithinDays, catalog, httpAuth, permissions } =
    options;
  const router = Router();
  router.use(express.json());
  const requireManage = async (req: express.Request) => {
    const credentials = await requireBasicPermission(
      req,
      { httpAuth, permissions },
      gitopsTokensManagePermission,
      'create or rotate tokens',
    );
    return {
      actor:
        credentials.principal.type === 'user'
          ? credentials.principal.userEntityRef
          : credentials.principal.subject,
    };
  };
  const requireRead = (req: express.Request) =>
    requireBasicPermission(
      req,
      { httpAuth, permissions },
      gitopsTokensReadPermission,
      'read the token inventory',
    );
  const report = (tokens: Awaited<ReturnType<typeof store.list>>) =>
    tokenFindings(tokens, { now: new Date(), expiringWithinDays });

  router.get('/tokens', async (req, res) => {
    await requireRead(req);
    const { entityRef } = parseInput(listQuery, req.query, 'query');
    const ref = entityRef && canonicalEntityRef(entityRef);
    const tokens = await store.list();
    res.json(
      pageOf(
        ref ? tokens.filter(t => t.entityRefs.includes(ref)) : tokens,
        readPage(req.query),
      ),
    );
  });

  router.get('/tokens/report', async (req, res) => {
    await requireRead(req);
    const page = readPage(req.query);
    res.json({
      ...pageOf(report(await store.list()), page),
      expiringWithinDays,
      unreadableSecrets: await store.listUnreadable(),
    });
  });

  router.post('/tokens', async (req, res) => {
    const actor = await requireManage(req);
    const body = parseInput(createBody, req.body ?? {}, 'request body');
    res.status(201).json({ token: await rotator.create(body, actor) });
  });

  router.post('/tokens/:id/rotate', async (req, res) => {
    const actor = await requireManage(req);
    const id = parseInput(idParam, req.params.id, 'token id');
    res.json({ token: await rotator.rotate(id, actor) });
  });

  router.get('/entities/:kind/:namespace/:name/tokens', async (req, res) => {
    const { entity } = await entityForRequest(
      req,
      { catalog, httpAuth, permissions },
      gitopsEntityReadPermission,
    );
    await requireRead(req);
    const ref = stringifyEntityRef(entity);
    const tokens = (await store.list()).filter(t => t.entityRefs.includes(ref));
    res.json({
      ...pageOf(tokens, readPage(req.query)),
      findings: report(tokens),
    });
  });

  return router;
}
