import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { RunningGitLab, startGitLab } from '../gitlab';
import {
  programOf,
  RealBinaries,
  realBinaries,
  RealCluster,
  realWorldSkipReason,
  startRealCluster,
} from '.';

const run = promisify(execFile);

jest.setTimeout(600_000);

const hasGo = realWorldSkipReason() === undefined;

/**
 * One real cluster (etcd, kube-apiserver, kube-controller-manager, the Flux controllers,
 * all built from their Go modules) applying a repository of the sandbox's Git host.
 */
(hasGo ? describe : describe.skip)(
  'a real cluster, built from Go modules',
  () => {
    let dir: string;
    let gitlab: RunningGitLab;
    let cluster: RealCluster;
    let repositoryUrl: string;
    let binaries: RealBinaries;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'testworld-'));
      binaries = await realBinaries({
        // eslint-disable-next-line no-console
        log: line => console.log(line),
      });
      gitlab = await startGitLab({ dataDir: join(dir, 'gitlab') });
      gitlab.api.createGroup({
        path: 'team',
        owner: 'root',
        visibility: 'public',
      });
      const project = await gitlab.api.createProject({
        namespace: 'team',
        path: 'delivery',
        visibility: 'public',
        files: {
          'apps/hello/kustomization.yaml':
            'resources:\n  - configmap.yaml\n  - deployment.yaml\n',
          'apps/hello/deployment.yaml': [
            'apiVersion: apps/v1',
            'kind: Deployment',
            'metadata: { name: hello, namespace: default }',
            'spec:',
            '  replicas: 2',
            '  selector: { matchLabels: { app: hello } }',
            '  template:',
            '    metadata: { labels: { app: hello } }',
            '    spec: { containers: [{ name: hello, image: ghcr.io/stefanprodan/podinfo:6.7.0 }] }',
            '',
          ].join('\n'),
          'apps/hello/configmap.yaml': [
            'apiVersion: v1',
            'kind: ConfigMap',
            'metadata:',
            '  name: hello',
            '  namespace: default',
            'data:',
            '  greeting: hello from Git',
            '',
          ].join('\n'),
        },
      });
      repositoryUrl = `${gitlab.url}/${project.pathWithNamespace}.git`;
      cluster = await startRealCluster({
        name: 'dev',
        dir: join(dir, 'dev'),
        binaries,
        // eslint-disable-next-line no-console
        log: line => console.log(line),
      });
    });

    afterAll(async () => {
      await cluster?.stop();
      await gitlab?.stop();
      // TESTWORLD_KEEP=1 keeps the folder (logs in <dir>/<cluster>/logs) to look into.
      if (dir && !process.env.TESTWORLD_KEEP) {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('serves a real version, OpenAPI and the Flux CRDs with their printer columns', async () => {
      const version = JSON.parse(
        await cluster.kubectl(['version', '-o', 'json']),
      );
      expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
      expect(
        await cluster.kubectl(['explain', 'kustomization.spec.prune']),
      ).toMatch(/Prune enables garbage collection/i);
      expect(
        await cluster.kubectl([
          'get',
          'crd',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          '-o',
          'jsonpath={.spec.versions[?(@.storage==true)].additionalPrinterColumns[*].name}',
        ]),
      ).toMatch(/Ready/);
    });

    it('reconciles a GitRepository and a Kustomization from the sandbox Git host with the real controllers, to an Available Deployment', async () => {
      await cluster.kubectl(
        ['apply', '-f', '-'],
        [
          'apiVersion: source.toolkit.fluxcd.io/v1',
          'kind: GitRepository',
          'metadata: { name: delivery, namespace: flux-system }',
          `spec: { interval: 1m, url: '${repositoryUrl}', ref: { branch: main } }`,
          '---',
          'apiVersion: kustomize.toolkit.fluxcd.io/v1',
          'kind: Kustomization',
          'metadata: { name: hello, namespace: flux-system }',
          'spec:',
          '  interval: 1m',
          '  path: ./apps/hello',
          '  prune: true',
          // Ready only once the Deployment is Available: kwok's node runs its pods.
          '  wait: true',
          '  sourceRef: { kind: GitRepository, name: delivery }',
          '',
        ].join('\n'),
      );
      await cluster
        .kubectl([
          '-n',
          'flux-system',
          'wait',
          '--for=condition=Ready',
          '--timeout=180s',
          'gitrepository/delivery',
          'kustomization/hello',
        ])
        .catch(async error => {
          // What Flux says, for the failure message.
          const conditions = await cluster.kubectl([
            '-n',
            'flux-system',
            'get',
            'gitrepository/delivery',
            'kustomization/hello',
            '-o',
            'jsonpath={range .items[*]}{.kind}: {.status.conditions}{"\\n"}{end}',
          ]);
          throw new Error(`${error.message}\n${conditions}`);
        });
      expect(
        await cluster.kubectl([
          '-n',
          'default',
          'get',
          'configmap',
          'hello',
          '-o',
          'jsonpath={.data.greeting}',
        ]),
      ).toBe('hello from Git');
      // What the real flux CLI says of it.
      expect(
        (
          await run(programOf(binaries, 'flux/flux-cli', 'flux'), [
            '--kubeconfig',
            cluster.adminKubeconfig,
            'get',
            'kustomizations',
            '-A',
          ])
        ).stdout,
      ).toMatch(
        /flux-system\s+hello\s+main@sha1:[0-9a-f]{8}\s+False\s+True\s+Applied revision/,
      );
      // The printer columns a user sees: READY and STATUS from the CRD.
      expect(
        await cluster.kubectl([
          '-n',
          'default',
          'get',
          'deployment',
          'hello',
          '-o',
          'jsonpath={.status.availableReplicas}',
        ]),
      ).toBe('2');
      expect(
        await cluster.kubectl(['-n', 'flux-system', 'get', 'kustomizations']),
      ).toMatch(
        /NAME\s+AGE\s+READY\s+STATUS[\s\S]*hello\s+\S+\s+True\s+Applied revision: main@sha1:/,
      );
    });

    it('gives the backend exactly what deploy/kubernetes/rbac.yaml grants', async () => {
      const can = (verb: string, resource: string, namespace: string) =>
        cluster
          .kubectl([
            'auth',
            'can-i',
            verb,
            resource,
            '-n',
            namespace,
            '--as=system:serviceaccount:flux-system:backstage-gitops',
          ])
          .then(
            out => out.trim(),
            (error: { stdout?: string }) => String(error.stdout ?? '').trim(),
          );
      expect(
        await can(
          'list',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          'default',
        ),
      ).toBe('yes');
      expect(
        await can(
          'patch',
          'gitrepositories.source.toolkit.fluxcd.io',
          'default',
        ),
      ).toBe('yes');
      expect(await can('list', 'secrets', 'default')).toBe('no');
      expect(await can('list', 'deployments.apps', 'default')).toBe('no');
      // The token itself, as the backend sends it.
      const asBackend = (path: string) =>
        new Promise<number>((resolve, reject) => {
          httpsRequest(
            `${cluster.url}${path}`,
            {
              ca: Buffer.from(cluster.caData, 'base64'),
              headers: { Authorization: `Bearer ${cluster.backstageToken}` },
            },
            res => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
            .on('error', reject)
            .end();
        });
      expect(
        await asBackend('/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations'),
      ).toBe(200);
      expect(await asBackend('/api/v1/secrets')).toBe(403);
    });
  },
);
