import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { programOf, realBinaries, realWorldSkipReason } from '.';
import { SandboxCluster, startSandboxCluster } from '../world/cluster';

jest.setTimeout(600_000);

const run = promisify(execFile);
const hasGo = realWorldSkipReason() === undefined;

/**
 * The sandbox's API server driven with the real kubectl (built from k8s.io/kubernetes):
 * what a user runs against a cluster must work against the imitation too.
 */
(hasGo ? describe : describe.skip)(
  'the sandbox, driven with the real kubectl and flux CLI',
  () => {
    let dir: string;
    let cluster: SandboxCluster;
    let kubectlPath: string;
    let fluxPath: string;
    /** Runs a real CLI (kubectl, flux) against the sandbox with a token. */
    const cli = async (program: string, token: string, args: string[]) => {
      const kubeconfig = join(dir, `kubeconfig-${token.slice(0, 8)}`);
      await writeFile(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'dev',
              cluster: {
                server: cluster.api.url,
                'certificate-authority-data': cluster.caData,
              },
            },
          ],
          users: [{ name: 'user', user: { token } }],
          contexts: [
            { name: 'dev', context: { cluster: 'dev', user: 'user' } },
          ],
          'current-context': 'dev',
        }),
      );
      return run(program, ['--kubeconfig', kubeconfig, ...args]).then(
        out => out.stdout.trim(),
        (error: { stdout?: string; stderr?: string }) =>
          `${String(error.stdout ?? '').trim()}${String(
            error.stderr ?? '',
          ).trim()}`,
      );
    };

    const kubectl = (token: string, args: string[]) =>
      cli(kubectlPath, token, args);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sandbox-kubectl-'));
      const binaries = await realBinaries();
      kubectlPath = programOf(binaries, 'kubernetes', 'kubectl');
      fluxPath = programOf(binaries, 'flux/flux-cli', 'flux');
      cluster = await startSandboxCluster({
        name: 'dev',
        dataDir: dir,
        tls: true,
      });
    });

    afterAll(async () => {
      await cluster?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reports the version of the real world it imitates', async () => {
      const version = JSON.parse(
        await kubectl(cluster.tokens.admin, ['version', '-o', 'json']),
      );
      expect(version.serverVersion.gitVersion).toBe('v1.36.3');
    });

    it('answers kubectl auth can-i by its RBAC, as the real cluster does for the backend', async () => {
      const backend = cluster.tokens.backstage;
      const can = (args: string[]) =>
        kubectl(backend, ['auth', 'can-i', ...args]);
      expect(
        await can([
          'list',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          '-n',
          'default',
        ]),
      ).toBe('yes');
      expect(
        await can([
          'patch',
          'gitrepositories.source.toolkit.fluxcd.io',
          '-n',
          'default',
        ]),
      ).toBe('yes');
      expect(await can(['list', 'secrets', '-n', 'default'])).toBe('no');
      expect(await can(['list', 'deployments.apps', '-n', 'default'])).toBe(
        'no',
      );
      expect(
        await kubectl(cluster.tokens.admin, ['auth', 'can-i', '*', '*']),
      ).toBe('yes');
    });

    it('lists the Flux objects under kubectl get all and get fluxcd, as their categories say', async () => {
      cluster.api.store.create({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'apps', namespace: 'flux-system' },
        spec: {
          interval: '1h',
          path: './apps',
          prune: true,
          suspend: true,
          sourceRef: { kind: 'GitRepository', name: 'absent' },
        },
      });
      const all = await kubectl(cluster.tokens.admin, [
        'get',
        'all',
        '-n',
        'flux-system',
      ]);
      expect(all).toMatch(
        /kustomization\.kustomize\.toolkit\.fluxcd\.io\/apps/,
      );
      expect(
        await kubectl(cluster.tokens.admin, ['get', 'fluxcd', '-A']),
      ).toMatch(/apps/);
      // The real flux CLI reads it as it reads a real cluster.
      expect(
        await cli(fluxPath, cluster.tokens.admin, [
          'get',
          'kustomizations',
          '-A',
        ]),
      ).toMatch(/flux-system\s+apps\s+True\s+False\s+/);
      // The CRD's printer columns, as on the real cluster (cluster.real.test.ts).
      cluster.api.store.mergePatch(
        {
          apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
          kind: 'Kustomization',
        },
        'flux-system',
        'apps',
        {
          status: {
            conditions: [
              {
                type: 'Ready',
                status: 'False',
                reason: 'ArtifactFailed',
                message: 'Source artifact not found',
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          },
        },
        { subresource: 'status' },
      );
      expect(
        await kubectl(cluster.tokens.admin, [
          'get',
          'kustomizations',
          '-n',
          'flux-system',
        ]),
      ).toMatch(
        /NAME\s+AGE\s+READY\s+STATUS[\s\S]*apps\s+\d+s\s+False\s+Source artifact not found/,
      );
    });
  },
);
