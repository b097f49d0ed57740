import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GitRepository } from '../git';
import { OciCredentials, pushArtifact } from '../oci';

export interface ArtifactPipeline {
  /** Directory of the Git repository packaged into the artifact. */
  path: string;
  /** `oci://<registry>/<repository>`. */
  ociUrl: string;
  credentials: OciCredentials;
}

export interface PipelineRun {
  sha: string;
  tags: string[];
  digest: string;
}

/**
 * What the delivery repository's CI does on a push (see the GitLab doc in the seed):
 * package one directory as a Flux OCI artifact and push it as `latest` and as the short
 * commit SHA, with the source and revision annotations `flux push artifact` writes.
 */
export async function runArtifactPipeline(
  repository: GitRepository,
  pipeline: ArtifactPipeline,
  branch: string,
  sha: string,
  sourceUrl: string,
): Promise<PipelineRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'sandbox-ci-'));
  try {
    const prefix = `${pipeline.path.replace(/\/+$/, '')}/`;
    for (const file of await repository.listFiles(sha)) {
      if (!file.startsWith(prefix)) continue;
      const content = await repository.readFile(sha, file);
      const target = join(workDir, file.slice(prefix.length));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content ?? Buffer.alloc(0));
    }
    const tags = [sha.slice(0, 8), 'latest'];
    let digest = '';
    for (const tag of tags) {
      ({ digest } = await pushArtifact({
        url: pipeline.ociUrl,
        tag,
        sourceDir: workDir,
        source: sourceUrl,
        revision: `${branch}@sha1:${sha}`,
        credentials: pipeline.credentials,
      }));
    }
    return { sha, tags, digest };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
