import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { KustomizeBuildError } from './errors';

export const KUSTOMIZATION_FILE_NAMES = [
  'kustomization.yaml',
  'kustomization.yml',
  'Kustomization',
];

/**
 * The files a build may read: everything in or below the root (the source artifact),
 * nothing outside it, whether by `..` or by a symlink — like Flux's secure filesystem.
 */
export class BuildFs {
  private constructor(readonly root: string) {}

  static async create(rootDir: string): Promise<BuildFs> {
    try {
      return new BuildFs(await realpath(rootDir));
    } catch (error) {
      throw new KustomizeBuildError(
        `root directory ${rootDir}: ${(error as Error).message}`,
      );
    }
  }

  private isInside(path: string): boolean {
    const fromRoot = relative(this.root, path);
    return (
      fromRoot === '' ||
      (!fromRoot.startsWith(`..${sep}`) &&
        fromRoot !== '..' &&
        !isAbsolute(fromRoot))
    );
  }

  /** Resolves `path` against `baseDir`, refusing anything that is (or links to) outside the root. */
  async resolve(baseDir: string, path: string): Promise<string> {
    const absolute = resolve(baseDir, path);
    let real = absolute;
    try {
      real = await realpath(absolute);
    } catch {
      // Missing paths are reported by whoever reads them.
    }
    if (!this.isInside(absolute) || !this.isInside(real)) {
      throw new KustomizeBuildError(
        `security; file '${absolute}' is not in or below '${this.root}'`,
      );
    }
    return absolute;
  }

  async kindOf(path: string): Promise<'file' | 'directory' | undefined> {
    try {
      const stats = await stat(path);
      if (stats.isDirectory()) return 'directory';
      return stats.isFile() ? 'file' : undefined;
    } catch {
      return undefined;
    }
  }

  async readText(path: string): Promise<string> {
    return (await this.readBytes(path)).toString('utf8');
  }

  async readBytes(path: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (error) {
      const reasons: Record<string, string> = {
        ENOENT: 'no such file or directory',
        EISDIR: 'is a directory',
      };
      const code = (error as NodeJS.ErrnoException).code ?? '';
      throw new KustomizeBuildError(
        `open ${path}: ${reasons[code] ?? (error as Error).message}`,
      );
    }
  }

  async list(
    dir: string,
  ): Promise<{ name: string; isDirectory: boolean; isFile: boolean }[]> {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .map(entry => ({
        name: entry.name,
        isDirectory: entry.isDirectory(),
        isFile: entry.isFile(),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : Number(a.name > b.name)));
  }

  /** The kustomization file of a directory; an error when there are several. */
  async kustomizationFileIn(dir: string): Promise<string | undefined> {
    const found: string[] = [];
    for (const name of KUSTOMIZATION_FILE_NAMES) {
      if ((await this.kindOf(resolve(dir, name))) === 'file')
        found.push(resolve(dir, name));
    }
    if (found.length > 1) {
      throw new KustomizeBuildError(
        `Found multiple kustomization files under: ${dir}`,
      );
    }
    return found[0];
  }
}
