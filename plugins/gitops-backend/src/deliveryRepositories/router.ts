import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  gitopsEntityManagePermission,
  gitopsEntityReadPermission,
  ParsedRepositoryUrl,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  ConflictError,
  InputError,
  NotFoundError,
  stringifyError,
} from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { repositoryHostProblem } from '../clusters/addresses';
import { DeliveryRepositoryStore } from '../database/DeliveryRepositoryStore';
import { RepositoryAccess } from '../gitHosts/RepositoryAccess';
import {
  allowedEntityRefs,
  canonicalEntityRef,
  parseInput,
  requireEntityPermission,
} from '../service/requestHelpers';
import { pageOf, readPage } from '../service/paging';

const createBody = z
  .object({
    entityRef: z.string().min(1),
    url: z.string().min(1),
    ref: z.string().min(1).optional(),
    path: z.string().optional(),
    clusters: z.array(z.string().trim().min(1)).optional(),
  })
  .strict();

const listQuery = z.object({ entityRef: z.string().min(1).optional() });

/**
 * `GET|POST /delivery-repositories`, `DELETE /delivery-repositories/:id`: the
 * delivery repositories registered per entity. Reading needs `gitops.entity.read`,
 * changing needs `gitops.entity.manage`, both on the entity, and registering a
 * repository needs read access to it on its Git host (`RepositoryAccess`). `annotation` entries
 * follow the catalog and are read-only here.
 */
export function createDeliveryRepositoryRoutes(options: {
  store: DeliveryRepositoryStore;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  catalog: CatalogService;
  /** The clusters an entry may name. */
  clusters: { get(name: string): unknown };
  /** Loopback or link-local hosts a URL may point at nonetheless (`gitops.registration`). */
  allowedLocalHosts: string[];
  access: Pick<RepositoryAccess, 'requireReadable'>;
}): express.Router {
  const { store, httpAuth, permissions, catalog, clusters } = options;
  const router = Router();
  router.use(express.json());

  router.get('/delivery-repositories', async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    const credentials = await httpAuth.credentials(req);
    if (query.entityRef) {
      const entityRef = canonicalEntityRef(query.entityRef);
      await requireEntityPermission(
        permissions,
        gitopsEntityReadPermission,
        entityRef,
        credentials,
      );
      res.json(pageOf(await store.list({ entityRef }), readPage(req.query)));
      return;
    }
    const entries = await store.list();
    const readable = await allowedEntityRefs(
      permissions,
      gitopsEntityReadPermission,
      [...new Set(entries.map(entry => entry.entityRef))],
      credentials,
    );
    res.json(
      pageOf(
        entries.filter(entry => readable.has(entry.entityRef)),
        readPage(req.query),
      ),
    );
  });

  router.post('/delivery-repositories', async (req, res) => {
    const body = parseInput(createBody, req.body, 'request body');
    const requestedRef = canonicalEntityRef(body.entityRef);
    let repository: ParsedRepositoryUrl;
    try {
      repository = parseRepositoryUrl(body.url);
    } catch (error) {
      throw new InputError(stringifyError(error));
    }
    const unknown = (body.clusters ?? []).filter(name => !clusters.get(name));
    if (unknown.length > 0) {
      throw new InputError(
        `Invalid clusters: no cluster named ${unknown
          .map(name => `"${name}"`)
          .join(', ')}`,
      );
    }
    const credentials = await httpAuth.credentials(req);
    // Looked up as the caller, so an entity they may not see is simply not found.
    const entity = await catalog.getEntityByRef(requestedRef, { credentials });
    if (!entity) {
      throw new NotFoundError(`No entity ${requestedRef} in the catalog`);
    }
    const entityRef = stringifyEntityRef(entity);
    await requireEntityPermission(
      permissions,
      gitopsEntityManagePermission,
      entityRef,
      credentials,
    );
    // Resolved only for a caller who may register: no DNS lookup on anyone's behalf.
    const local = await repositoryHostProblem(
      repository,
      options.allowedLocalHosts,
    );
    if (local) throw new InputError(`Invalid url: ${local}`);
    // Its heads and commits are read with the backend's token for the entity's page.
    await options.access.requireReadable(repository, credentials);
    const stored = await store.upsert({
      entityRef,
      url: body.url,
      ref: body.ref,
      path: body.path,
      clusters: body.clusters,
      origin: 'api',
    });
    res.status(201).json(stored);
  });

  router.delete('/delivery-repositories/:id', async (req, res) => {
    const credentials = await httpAuth.credentials(req);
    const entry = await store.get(req.params.id);
    if (!entry) {
      throw new NotFoundError(`No delivery repository ${req.params.id}`);
    }
    await requireEntityPermission(
      permissions,
      gitopsEntityManagePermission,
      entry.entityRef,
      credentials,
    );
    if (entry.origin === 'annotation') {
      throw new ConflictError(
        `Delivery repository ${entry.id} comes from the annotations of ${entry.entityRef}; change the entity's annotations to remove it`,
      );
    }
    await store.delete(entry.id);
    res.status(204).end();
  });

  return router;
}
