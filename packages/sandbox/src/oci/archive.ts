import { mkdir, readdir } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { OciError } from './errors';

// Flux zeroes the modification time so that the same files give the same layer digest.
const FIXED_MTIME = new Date(0);

/**
 * Builds the layer `flux push artifact` uploads: a gzipped tarball of the directory's
 * regular files and directories in lexical walk order (symlinks and other special
 * files are left out, like Flux does), without owner, times or umask-dependent modes.
 */
export async function createDeterministicTarGz(
  sourceDir: string,
  ignorePaths: string[] = [],
): Promise<Buffer> {
  const entries = await walkSorted(sourceDir, '', new Set(ignorePaths));
  const chunks: Buffer[] = [];
  const pack = tar.create(
    {
      gzip: true,
      cwd: sourceDir,
      portable: true,
      mtime: FIXED_MTIME,
      noDirRecurse: true,
    },
    entries,
  );
  for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function walkSorted(
  root: string,
  relativeDir: string,
  ignored: Set<string>,
): Promise<string[]> {
  const dirents = await readdir(join(root, relativeDir), {
    withFileTypes: true,
  });
  dirents.sort((a, b) => (a.name < b.name ? -1 : Number(a.name > b.name)));
  const result: string[] = [];
  for (const dirent of dirents) {
    const relativePath = relativeDir
      ? posix.join(relativeDir, dirent.name)
      : dirent.name;
    if (ignored.has(dirent.name) || ignored.has(relativePath)) continue;
    if (dirent.isDirectory()) {
      result.push(
        relativePath,
        ...(await walkSorted(root, relativePath, ignored)),
      );
    } else if (dirent.isFile()) {
      result.push(relativePath);
    }
  }
  return result;
}

/**
 * Extracts a tar.gz layer into `destination`. Like Flux's untar, it refuses the whole
 * archive when an entry is a link or its path would land outside the destination.
 */
export async function extractTarGz(
  archive: Buffer,
  destination: string,
): Promise<void> {
  await assertSafeEntries(archive);
  await mkdir(destination, { recursive: true });
  await pipeline(
    Readable.from([archive]),
    tar.extract({ cwd: destination, strict: true }),
  );
}

async function assertSafeEntries(archive: Buffer): Promise<void> {
  const problems: string[] = [];
  await pipeline(
    Readable.from([archive]),
    tar.list({
      strict: true,
      onReadEntry: entry => {
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          problems.push(
            `tar entry '${entry.path}' is a link, which is not allowed`,
          );
        } else if (escapesDestination(entry.path)) {
          problems.push(
            `tar entry '${entry.path}' would be extracted outside the destination`,
          );
        }
      },
    }),
  );
  if (problems.length > 0) {
    throw new OciError(
      `refusing to extract the artifact: ${problems.join('; ')}`,
    );
  }
}

function escapesDestination(entryPath: string): boolean {
  if (isAbsolute(entryPath) || /^[A-Za-z]:/.test(entryPath)) return true;
  const normalized = normalize(entryPath);
  return normalized === '..' || normalized.startsWith(`..${sep}`);
}
