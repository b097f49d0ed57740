import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { InputError } from '@backstage/errors';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { ClusterRegistry, clusterRegistrationSchema } from './ClusterRegistry';
import { GitOpsCluster } from './types';
import type { ClusterHealth } from '../cache/types';
import { gitopsClusterReadPermission } from '@backstage-gitops/plugin-gitops-common';
import {
  requireBasicPermission,
  requireClusterManage,
} from '../service/requestHelpers';
import { pageOf, readPage } from '../service/paging';

export type { ClusterHealth };

/** Where a cluster's connection health comes from: the Flux watch caches. */
export interface ClusterHealthSource {
  health(name: string): ClusterHealth;
}

/** A cluster as the API shows it: never its token. */
function toView(cluster: GitOpsCluster, health: ClusterHealthSource) {
  return {
    name: cluster.name,
    url: cluster.url,
    source: cluster.source,
    skipTLSVerify: cluster.skipTLSVerify ?? false,
    settings: cluster.settings,
    health: health.health(cluster.name),
  };
}

/** `GET|POST /clusters`, `DELETE /clusters/:name`. */
export function createClusterRoutes(options: {
  registry: ClusterRegistry;
  health: ClusterHealthSource;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
}): express.Router {
  const { registry, health, httpAuth, permissions } = options;
  const router = Router();
  router.use(express.json());

  const authorizeManage = (req: Request) =>
    requireClusterManage(req, { httpAuth, permissions });

  router.get('/clusters', async (req, res) => {
    await requireBasicPermission(
      req,
      { httpAuth, permissions },
      gitopsClusterReadPermission,
      'see the GitOps clusters',
    );
    const page = readPage(req.query);
    res.json(
      pageOf(
        registry.list().map(cluster => toView(cluster, health)),
        page,
      ),
    );
  });

  router.post('/clusters', async (req, res) => {
    const credentials = await authorizeManage(req);
    const parsed = clusterRegistrationSchema.safeParse(req.body);
    if (!parsed.success) {
      throw new InputError(
        `Invalid cluster: ${parsed.error.issues
          .map(issue => `${issue.path.join('.') || 'body'}: ${issue.message}`)
          .join('; ')}`,
      );
    }
    const createdBy =
      credentials.principal.type === 'user'
        ? credentials.principal.userEntityRef
        : credentials.principal.subject;
    const cluster = await registry.register(parsed.data, { createdBy });
    res.status(201).json(toView(cluster, health));
  });

  router.delete('/clusters/:name', async (req, res) => {
    await authorizeManage(req);
    await registry.remove(req.params.name);
    res.status(204).end();
  });

  return router;
}
