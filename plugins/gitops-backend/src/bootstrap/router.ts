import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { gitopsEntityManagePermission } from '@backstage-gitops/plugin-gitops-common';
import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { NotFoundError } from '@backstage/errors';
import {
  entityForRef,
  parseInput,
  prospectiveEntityFor,
  requireClusterManage,
} from '../service/requestHelpers';
import { ownersOf } from '../tenancy';
import { FluxBootstrapper } from './FluxBootstrapper';

/** A path inside the repository: relative, no `.`/`..` segments, `./` and `/` trimmed. */
const repositoryPath = z
  .string()
  .max(1024)
  .transform(path => path.trim().replace(/^\.\//, '').replace(/\/+$/, ''))
  .refine(
    path =>
      path === '' ||
      path === '.' ||
      (!path.startsWith('/') &&
        path
          .split('/')
          .every(
            segment =>
              /^[A-Za-z0-9._-]+$/.test(segment) &&
              segment !== '.' &&
              segment !== '..',
          )),
    'must be a relative path inside the repository (letters, digits, ._-, no .. segments)',
  )
  .transform(path => (path === '.' ? '' : path));

const bootstrapBody = z
  .object({
    entityRef: z.string().min(1).max(512),
    url: z.string().min(1).max(2048),
    ref: z
      .string()
      .regex(/^[A-Za-z0-9._/-]{1,255}$/, 'is not a branch or tag name')
      .refine(ref => !ref.includes('..'), 'is not a branch or tag name')
      .optional(),
    clusters: z
      .array(
        z
          .object({
            name: z.string().min(1).max(253),
            path: repositoryPath,
            namespace: z
              .string()
              .max(63)
              .regex(
                /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
                'is not a namespace name',
              )
              .optional(),
          })
          .strict(),
      )
      .min(1)
      .max(100)
      .refine(
        clusters => new Set(clusters.map(c => c.name)).size === clusters.length,
        'names a cluster twice',
      ),
    name: z.string().min(1).max(63).optional(),
    interval: z
      .string()
      .regex(
        /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/,
        'is not a Go duration like 10m',
      )
      .default('10m'),
    insecure: z.boolean().optional(),
    credential: z.boolean().optional(),
    dryRun: z.boolean().default(false),
    privileged: z.boolean().default(false),
    owner: z.string().min(1).max(512).optional(),
  })
  .strict();

/**
 * `POST /flux/bootstrap` (`gitops.entity.manage` on the entity; `privileged` also needs
 * `gitops.cluster.manage`): wire a delivery repository to Flux on the given clusters;
 * with `dryRun`, validate and render only. Every permission is checked before any
 * other work (no Git host, cluster or DNS call), dry runs included.
 */
export function createBootstrapRoutes(options: {
  bootstrapper: Pick<FluxBootstrapper, 'bootstrap'>;
  catalog: CatalogService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { bootstrapper, catalog, httpAuth, permissions } = options;
  const router = Router();
  router.use(express.json());

  router.post('/flux/bootstrap', async (req, res) => {
    const body = parseInput(bootstrapBody, req.body ?? {}, 'request body');
    const services = { catalog, httpAuth, permissions };
    const { entity, entityRef, actor, credentials } = await entityForRef(
      req,
      body.entityRef,
      services,
      gitopsEntityManagePermission,
    ).catch(async error => {
      // A template's dry run names the entity it is about to create, with its owner:
      // authorized as that entity would be, by the same policy.
      if (!(body.dryRun && body.owner && error instanceof NotFoundError)) {
        throw error;
      }
      return prospectiveEntityFor(
        req,
        body.entityRef,
        body.owner,
        services,
        gitopsEntityManagePermission,
      );
    });
    if (body.privileged) {
      await requireClusterManage(req, { httpAuth, permissions });
    }
    const result = await bootstrapper.bootstrap(
      {
        ...body,
        entityRef,
        owners: ownersOf(entity),
        ref: body.ref ?? (body.url.startsWith('oci://') ? 'latest' : 'main'),
      },
      { actor, credentials },
    );
    res.status(result.dryRun ? 200 : 201).json(result);
  });

  return router;
}
