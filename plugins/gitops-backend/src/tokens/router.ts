import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  gitopsEntityReadPermission,
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

const listQuery = z.object({ entityRef: z.string().optional() }).strict();

/**
 * `GET /tokens`, `GET /tokens/report` (`gitops.tokens.read`) and
 * `GET /entities/.../tokens` (also `gitops.entity.read` on the entity): the credentials
 * Flux uses, as the inventory last saw them, and what is wrong with them. Metadata
 * and fingerprints only.
 */
export function createTokenRoutes(options: {
  store: Pick<TokenStore, 'list'>;
  expiringWithinDays: number;
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { store, expiringWithinDays, catalog, httpAuth, permissions } = options;
  const router = Router();
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
    res.json({
      items: ref ? tokens.filter(t => t.entityRefs.includes(ref)) : tokens,
    });
  });

  router.get('/tokens/report', async (req, res) => {
    await requireRead(req);
    res.json({
      items: report(await store.list()),
      expiringWithinDays,
    });
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
    res.json({ items: tokens, findings: report(tokens) });
  });

  return router;
}
