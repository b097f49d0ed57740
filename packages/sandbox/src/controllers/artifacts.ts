import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { kubeTime } from './conditions';
import type { SourceIgnoreMatcher } from './sourceignore';

/** `status.artifact` of a Flux source (the `meta.Artifact` API type). */
export interface Artifact {
  path: string;
  url: string;
  revision: string;
  digest: string;
  lastUpdateTime: string;
  size?: number;
  metadata?: Record<string, string>;
}

export const DEFAULT_ARTIFACT_HOSTNAME =
  'source-controller.flux-system.svc.cluster.local.';

/** How many artifacts per object survive garbage collection (Flux: `--artifact-retention-records=2`). */
const RETAINED_ARTIFACTS = 2;

// Flux's storage zeroes times and owners so that the same content gives the same digest.
const FIXED_MTIME = new Date(0);

/** Go's string order (by code unit), which Flux's directory walk follows. */
export function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return `sha256:${hash.digest('hex')}`;
}

async function listFiles(
  root: string,
  relativeDir: string,
  ignore: SourceIgnoreMatcher | undefined,
): Promise<string[]> {
  const entries = await readdir(join(root, relativeDir), {
    withFileTypes: true,
  });
  entries.sort((a, b) => byteOrder(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    const path = relativeDir ? posix.join(relativeDir, entry.name) : entry.name;
    if (entry.isDirectory()) {
      if (ignore?.ignores(path, true)) continue;
      files.push(...(await listFiles(root, path, ignore)));
    } else if (entry.isFile() && !ignore?.ignores(path, false)) {
      files.push(path);
    }
  }
  return files;
}

export class ArtifactNotFoundError extends Error {
  constructor(url: string) {
    super(`failed to download archive from ${url}: file not found`);
    this.name = 'ArtifactNotFoundError';
  }
}

/**
 * source-controller's artifact storage: one directory per object
 * (`<kind>/<namespace>/<name>/`), files named after their revision, advertised at
 * `http://<hostname>/<path>` like the real storage server.
 */
export class ArtifactStorage {
  constructor(
    readonly root: string,
    readonly hostname: string = DEFAULT_ARTIFACT_HOSTNAME,
  ) {}

  /** The directory holding the artifacts of one object. */
  objectDir(kind: string, namespace: string, name: string): string {
    return join(this.root, kind.toLowerCase(), namespace, name);
  }

  relativePath(
    kind: string,
    namespace: string,
    name: string,
    fileName: string,
  ): string {
    return posix.join(kind.toLowerCase(), namespace, name, fileName);
  }

  /** The local file of an artifact; refuses paths that would leave the storage. */
  localPath(artifact: Pick<Artifact, 'path'>): string {
    const path = resolve(this.root, artifact.path);
    if (!path.startsWith(resolve(this.root) + sep)) {
      throw new Error(
        `artifact path '${artifact.path}' is outside the storage`,
      );
    }
    return path;
  }

  url(relativePath: string): string {
    return `http://${this.hostname}/${relativePath}`;
  }

  private async describe(
    relativePath: string,
    revision: string,
    metadata?: Record<string, string>,
  ): Promise<Artifact> {
    const local = this.localPath({ path: relativePath });
    const { size } = await stat(local);
    return {
      path: relativePath,
      url: this.url(relativePath),
      revision,
      digest: await sha256File(local),
      lastUpdateTime: kubeTime(),
      size,
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    };
  }

  /** Archives a directory (minus ignored paths) as a deterministic tar.gz artifact. */
  async archiveDirectory(
    sourceDir: string,
    target: { kind: string; namespace: string; name: string; fileName: string },
    revision: string,
    options: {
      ignore?: SourceIgnoreMatcher;
      metadata?: Record<string, string>;
    } = {},
  ): Promise<Artifact> {
    const relativePath = this.relativePath(
      target.kind,
      target.namespace,
      target.name,
      target.fileName,
    );
    const local = this.localPath({ path: relativePath });
    await mkdir(dirname(local), { recursive: true });
    const files = await listFiles(sourceDir, '', options.ignore);
    const temporary = `${local}.tmp-${process.pid}-${Date.now()}`;
    // node-tar cannot read an archive without entries: an empty one holds just `./`.
    await tar.create(
      {
        gzip: true,
        cwd: sourceDir,
        portable: true,
        mtime: FIXED_MTIME,
        noDirRecurse: true,
        file: temporary,
      },
      files.length > 0 ? files : ['.'],
    );
    await rename(temporary, local);
    return this.describe(relativePath, revision, options.metadata);
  }

  /** Stores a file as an artifact as is (a packaged chart, a repository index). */
  async storeFile(
    content: Buffer,
    target: { kind: string; namespace: string; name: string; fileName: string },
    revision: string,
  ): Promise<Artifact> {
    const relativePath = this.relativePath(
      target.kind,
      target.namespace,
      target.name,
      target.fileName,
    );
    const local = this.localPath({ path: relativePath });
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, content);
    return this.describe(relativePath, revision);
  }

  async exists(artifact: Pick<Artifact, 'path'>): Promise<boolean> {
    try {
      return (await lstat(this.localPath(artifact))).isFile();
    } catch {
      return false;
    }
  }

  /** Whether the file is there and still has the advertised digest. */
  async verify(artifact: Pick<Artifact, 'path' | 'digest'>): Promise<boolean> {
    if (!(await this.exists(artifact))) return false;
    return (await sha256File(this.localPath(artifact))) === artifact.digest;
  }

  /**
   * What kustomize-controller's fetcher does with an artifact URL: checks the digest and
   * extracts the tarball into `destination`.
   */
  async extract(
    artifact: Pick<Artifact, 'path' | 'digest' | 'url'>,
    destination: string,
  ): Promise<void> {
    if (!(await this.exists(artifact))) {
      throw new ArtifactNotFoundError(artifact.url);
    }
    const actual = await sha256File(this.localPath(artifact));
    if (actual !== artifact.digest) {
      throw new Error(
        `failed to verify artifact: computed digest doesn't match '${artifact.digest}'`,
      );
    }
    await mkdir(destination, { recursive: true });
    await tar.extract({
      file: this.localPath(artifact),
      cwd: destination,
      strict: true,
    });
  }

  /** Removes all but the newest artifacts of an object (the current one is always kept). */
  async garbageCollect(current: Pick<Artifact, 'path'>): Promise<void> {
    const directory = dirname(this.localPath(current));
    const currentName = relative(directory, this.localPath(current));
    let names: string[];
    try {
      names = await readdir(directory);
    } catch {
      return;
    }
    const files = await Promise.all(
      names
        .filter(name => name !== currentName && !name.includes('.tmp-'))
        .map(async name => ({
          name,
          mtime: (await stat(join(directory, name))).mtimeMs,
        })),
    );
    files.sort((a, b) => b.mtime - a.mtime);
    for (const file of files.slice(RETAINED_ARTIFACTS - 1)) {
      await rmQuiet(join(directory, file.name));
    }
  }

  /** Removes every artifact of a deleted object. */
  async removeAll(
    kind: string,
    namespace: string,
    name: string,
  ): Promise<void> {
    await rm(this.objectDir(kind, namespace, name), {
      recursive: true,
      force: true,
    });
  }
}

async function rmQuiet(path: string): Promise<void> {
  await rm(path, { force: true });
}
