import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatusSession } from '../status';
import {
  FETCH_FAILED,
  SourceError,
  type ProduceHelpers,
  type ProducedArtifact,
  type SourceKindHandler,
  type SourceStatus,
} from './sourceReconciler';

export const BUCKET_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'Bucket',
} as const;

/**
 * Bucket: the sandbox has no object storage, so every bucket is empty. Its revision is
 * the digest of the empty object index, as source-controller computes it.
 */
export function bucketHandler(): SourceKindHandler {
  return {
    type: BUCKET_TYPE,

    async produce(
      session: StatusSession<SourceStatus>,
      { env, markNewRevision }: ProduceHelpers,
    ): Promise<ProducedArtifact> {
      const namespace = session.namespace ?? 'default';
      const bucketName = String(
        (session.spec as { bucketName?: string }).bucketName ?? '',
      );
      const injected = env.faults.sourceFetchFailure(
        'Bucket',
        namespace,
        session.name,
      );
      if (injected !== undefined) {
        throw new SourceError(
          FETCH_FAILED,
          'BucketOperationFailed',
          `failed to confirm existence of '${bucketName}' bucket: ${injected}`,
        );
      }
      const hex = createHash('sha256').update('').digest('hex');
      const revision = `sha256:${hex}`;
      const storedMessage = `stored artifact: revision '${revision}'`;
      const event = {
        reason: 'NewArtifact',
        message: `stored artifact with 0 fetched files from '${bucketName}' bucket`,
      };
      const current = session.status.artifact;
      if (current?.revision === revision) {
        return { artifact: current, storedMessage, event };
      }
      await markNewRevision(`new upstream revision '${revision}'`);
      await mkdir(join(env.workDir, 'tmp'), { recursive: true });
      const emptyDir = await mkdtemp(join(env.workDir, 'tmp', 'bucket-'));
      try {
        const artifact = await env.storage.archiveDirectory(
          emptyDir,
          {
            kind: 'Bucket',
            namespace,
            name: session.name,
            fileName: `${hex}.tar.gz`,
          },
          revision,
        );
        return { artifact, storedMessage, event };
      } finally {
        await rm(emptyDir, { recursive: true, force: true });
      }
    },
  };
}
