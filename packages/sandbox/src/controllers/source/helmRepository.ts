import { createHash } from 'node:crypto';
import type { ClusterStore, KubeObject } from '../../kube/types';
import type { StatusSession } from '../status';
import { removeFinalizer, writeOptions } from '../status';
import {
  FETCH_FAILED,
  SourceError,
  type ProduceHelpers,
  type ProducedArtifact,
  type SourceKindHandler,
  type SourceStatus,
} from './sourceReconciler';

export const HELM_REPOSITORY_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'HelmRepository',
} as const;

/**
 * The index a sandbox HelmRepository serves: the sandbox never downloads a real index
 * (that would leave loopback), so every repository advertises an empty one.
 */
const SANDBOX_INDEX = 'apiVersion: v1\nentries: {}\n';

/** docker/go-units HumanSize: decimal units, four significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

export function isOciHelmRepository(object: KubeObject): boolean {
  return (object.spec as { type?: string } | undefined)?.type === 'oci';
}

/**
 * Since source-controller v1.3 a HelmRepository of type `oci` is a static object: the
 * controller drops its finalizer and status and never reconciles it again.
 */
export function migrateOciHelmRepositoryToStatic(
  store: ClusterStore,
  object: KubeObject,
): void {
  removeFinalizer(store, HELM_REPOSITORY_TYPE, object, 'source-controller');
  if (object.status && Object.keys(object.status as object).length > 0) {
    const current = store.get(
      HELM_REPOSITORY_TYPE,
      object.metadata.namespace,
      object.metadata.name,
    );
    if (!current) return;
    const { resourceVersion: _resourceVersion, ...metadata } = current.metadata;
    store.update(
      { ...current, metadata, status: {} },
      writeOptions('source-controller', 'status'),
    );
  }
}

/** HelmRepository of the default type: an index artifact (empty in the sandbox). */
export function helmRepositoryHandler(): SourceKindHandler {
  return {
    type: HELM_REPOSITORY_TYPE,

    async produce(
      session: StatusSession<SourceStatus>,
      { env, markNewRevision }: ProduceHelpers,
    ): Promise<ProducedArtifact> {
      const url = String((session.spec as { url?: string }).url ?? '');
      const namespace = session.namespace ?? 'default';
      if (url.startsWith('oci://')) {
        throw new SourceError(
          FETCH_FAILED,
          'URLInvalid',
          "invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type",
          'stalling',
        );
      }
      const injected = env.faults.sourceFetchFailure(
        'HelmRepository',
        namespace,
        session.name,
      );
      if (injected !== undefined) {
        throw new SourceError(
          FETCH_FAILED,
          'Failed',
          `failed to fetch Helm repository index: ${injected}`,
        );
      }
      const content = Buffer.from(SANDBOX_INDEX);
      const hex = createHash('sha256').update(content).digest('hex');
      const revision = `sha256:${hex}`;
      const storedMessage = `stored artifact: revision '${revision}'`;
      const event = {
        reason: 'NewArtifact',
        message: `stored fetched index of size ${humanSize(
          content.length,
        )} from '${url}'`,
      };
      const current = session.status.artifact;
      if (current?.revision === revision) {
        return { artifact: current, storedMessage, event };
      }
      await markNewRevision(`new index revision '${revision}'`);
      const artifact = await env.storage.storeFile(
        content,
        {
          kind: 'HelmRepository',
          namespace,
          name: session.name,
          fileName: `index-${hex}.yaml`,
        },
        revision,
      );
      return {
        artifact,
        storedMessage,
        event,
        observed: {
          url: env.storage.url(
            env.storage.relativePath(
              'HelmRepository',
              namespace,
              session.name,
              'index.yaml',
            ),
          ),
        },
      };
    },
  };
}
