import { execFile, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';

/** The folder of each real component (`<dir>/bin/<program>`, `<dir>/crds/*.yaml`). */
export type RealBinaries = Record<RealComponent, string>;

export type RealComponent =
  | 'etcd'
  | 'kubernetes'
  | 'kwok'
  | 'flux/source-controller'
  | 'flux/kustomize-controller'
  | 'flux/notification-controller'
  | 'flux/helm-controller'
  | 'flux/flux-cli';

/**
 * Why the real-world tier cannot run on this machine, or undefined when it can: its
 * Kubernetes and Flux are built from Go modules. Said once, for a test file to skip on.
 */
export function realWorldSkipReason(): string | undefined {
  if (spawnSync('go', ['version']).status === 0) return undefined;
  const reason =
    'no Go toolchain on this machine (its Kubernetes and Flux are built from Go modules)';
  // eslint-disable-next-line no-console
  console.warn(`The real-world tier was skipped: ${reason}.`);
  return reason;
}

/** Why the real world cannot run here (no Go, or a component would not build). */
export class RealWorldUnavailable extends Error {}

/** The repository, found from this package as world/tenants.ts finds `deploy/`. */
export const REPO_ROOT = resolve(
  dirname(require.resolve('@backstage-gitops/sandbox/package.json')),
  '../..',
);

/**
 * The real components, built by `testworld/build.sh` from their Go modules into a cache
 * outside the clone: seconds when the cache holds them, minutes the first time.
 */
export function realBinaries(
  options: { log?: (line: string) => void } = {},
): Promise<RealBinaries> {
  return new Promise((resolvePaths, reject) => {
    const child = execFile(
      'bash',
      [join(REPO_ROOT, 'testworld/build.sh')],
      { maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as { code?: number }).code;
          reject(
            new RealWorldUnavailable(
              code === 3
                ? 'no Go toolchain on this machine (the real world is built from Go modules)'
                : `testworld/build.sh failed: ${String(stderr)
                    .trim()
                    .split('\n')
                    .slice(-5)
                    .join(' | ')}`,
            ),
          );
          return;
        }
        const paths = Object.fromEntries(
          String(stdout)
            .split('\n')
            .filter(line => line.includes('='))
            .map(line => line.split('=', 2)),
        ) as RealBinaries;
        resolvePaths(paths);
      },
    );
    child.stderr?.on('data', chunk => options.log?.(String(chunk).trimEnd()));
  });
}

/** A program's path: `program('kubernetes', 'kube-apiserver')`. */
export function programOf(
  binaries: RealBinaries,
  component: RealComponent,
  program: string,
): string {
  return join(binaries[component], 'bin', program);
}
