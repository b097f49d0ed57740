import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { KubeObject } from '../../kube/types';
import {
  conditionOf,
  eventsFor,
  requestReconcile,
  startTestCluster,
  waitFor,
  waitForReady,
  type TestCluster,
} from '../__testUtils__/cluster';
import {
  TestRepository,
  startGitServer,
  type TestGitServer,
} from '../__testUtils__/gitServer';
import { GIT_REPOSITORY_TYPE } from '.';

const NAMESPACE = 'flux-system';

interface Artifact {
  path: string;
  url: string;
  revision: string;
  digest: string;
  size: number;
  lastUpdateTime: string;
}

function artifactOf(object: KubeObject | undefined): Artifact | undefined {
  return (object?.status as { artifact?: Artifact } | undefined)?.artifact;
}

function gitRepository(
  name: string,
  url: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    ...GIT_REPOSITORY_TYPE,
    metadata: { name, namespace: NAMESPACE },
    spec: { interval: '10m', url, ...spec },
  };
}

describe('source-controller GitRepository', () => {
  let root: string;
  let repo: TestRepository;
  let server: TestGitServer;
  let cluster: TestCluster;
  let firstSha: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'controllers-git-'));
    repo = await TestRepository.create(root, 'app');
    firstSha = await repo.commit(
      {
        'deploy/configmap.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n',
        'logo.png': 'x',
      },
      'Add the first manifests\n\nWith a body that is not part of the subject.',
    );
    await repo.tag('v1.0.0');
    server = await startGitServer(root);
    cluster = await startTestCluster({
      sshTransport: (_url, secret) =>
        secret.identity === 'good-key'
          ? { httpUrl: `${server.url}/app.git`, username: 'git', password: 'x' }
          : new Error(
              'ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain',
            ),
    });
    cluster.store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
  });

  afterAll(async () => {
    await cluster.dispose();
    await server.stop();
    await repo.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('becomes Ready with an artifact of the branch head, then moves after a new commit and a reconcile request', async () => {
    const { store } = cluster;
    store.create(
      gitRepository('app', `${server.url}/app.git`, {
        ref: { branch: 'main' },
      }),
    );
    const ready = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'app',
    );
    const artifact = artifactOf(ready)!;
    expect(artifact.revision).toBe(`main@sha1:${firstSha}`);
    expect(artifact.path).toBe(
      `gitrepository/${NAMESPACE}/app/${firstSha}.tar.gz`,
    );
    expect(artifact.url).toBe(
      `http://source-controller.flux-system.svc.cluster.local./gitrepository/${NAMESPACE}/app/${firstSha}.tar.gz`,
    );
    expect(artifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(artifact.size).toBeGreaterThan(0);
    expect(conditionOf(ready, 'Ready')).toMatchObject({
      reason: 'Succeeded',
      message: `stored artifact for revision 'main@sha1:${firstSha}'`,
      observedGeneration: 1,
    });
    expect(conditionOf(ready, 'ArtifactInStorage')?.status).toBe('True');
    expect(conditionOf(ready, 'Reconciling')).toBeUndefined();
    expect(
      (ready.status as { observedGeneration?: number }).observedGeneration,
    ).toBe(1);
    expect(ready.metadata.finalizers).toContain('finalizers.fluxcd.io');

    const newArtifact = eventsFor(store, ready).find(
      e => (e as { reason?: string }).reason === 'NewArtifact',
    );
    expect(newArtifact).toMatchObject({
      type: 'Normal',
      message: "stored artifact for commit 'Add the first manifests'",
      source: { component: 'source-controller' },
      involvedObject: {
        kind: 'GitRepository',
        name: 'app',
        namespace: NAMESPACE,
        uid: ready.metadata.uid,
      },
      metadata: {
        annotations: {
          'source.toolkit.fluxcd.io/revision': `main@sha1:${firstSha}`,
          'source.toolkit.fluxcd.io/digest': artifact.digest,
        },
      },
    });

    // The artifact is the tree minus Flux's default exclusions (images here).
    const files: string[] = [];
    await tar.list({
      file: join(cluster.dataDir, 'artifacts', artifact.path),
      onReadEntry: entry => {
        files.push(entry.path);
      },
    });
    expect(files).toEqual(['deploy/configmap.yaml']);

    const secondSha = await repo.commit(
      { 'deploy/other.yaml': 'kind: ConfigMap\n' },
      'Second commit',
    );
    const requestedAt = requestReconcile(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'app',
    );
    const moved = await waitFor(
      () => {
        const object = store.get(GIT_REPOSITORY_TYPE, NAMESPACE, 'app');
        return artifactOf(object)?.revision === `main@sha1:${secondSha}` &&
          (object?.status as { lastHandledReconcileAt?: string })
            .lastHandledReconcileAt === requestedAt
          ? object
          : undefined;
      },
      () => store.get(GIT_REPOSITORY_TYPE, NAMESPACE, 'app')?.status,
    );
    expect(conditionOf(moved, 'Ready')?.status).toBe('True');
    expect(conditionOf(moved, 'ArtifactOutdated')).toBeUndefined();
  });

  it('checks out tags, semver ranges and plain commits with their revision formats', async () => {
    const { store } = cluster;
    store.create(
      gitRepository('by-tag', `${server.url}/app.git`, {
        ref: { tag: 'v1.0.0' },
      }),
    );
    store.create(
      gitRepository('by-semver', `${server.url}/app.git`, {
        ref: { semver: '>=1.0.0 <2.0.0' },
      }),
    );
    store.create(
      gitRepository('by-commit', `${server.url}/app.git`, {
        ref: { commit: firstSha },
      }),
    );
    store.create(
      gitRepository('by-name', `${server.url}/app.git`, {
        ref: { name: 'refs/tags/v1.0.0' },
      }),
    );
    const revision = async (name: string) =>
      artifactOf(
        await waitForReady(store, GIT_REPOSITORY_TYPE, NAMESPACE, name),
      )?.revision;
    expect(await revision('by-tag')).toBe(`v1.0.0@sha1:${firstSha}`);
    expect(await revision('by-semver')).toBe(`v1.0.0@sha1:${firstSha}`);
    expect(await revision('by-commit')).toBe(`sha1:${firstSha}`);
    expect(await revision('by-name')).toBe(`refs/tags/v1.0.0@sha1:${firstSha}`);
  });

  it('reconciles an object created as v1beta2 (one storage, converted by the API)', async () => {
    const { store } = cluster;
    const v1beta2 = {
      apiVersion: 'source.toolkit.fluxcd.io/v1beta2',
      kind: 'GitRepository',
    };
    store.create({
      ...gitRepository('legacy', `${server.url}/app.git`, {
        ref: { branch: 'main' },
      }),
      ...v1beta2,
    });
    const ready = await waitForReady(store, v1beta2, NAMESPACE, 'legacy');
    expect(ready.apiVersion).toBe(v1beta2.apiVersion);
    expect(artifactOf(ready)?.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
  });

  it('defaults to the master branch like Flux and reports a missing ref as GitOperationFailed', async () => {
    const { store } = cluster;
    store.create(gitRepository('no-ref', `${server.url}/app.git`));
    const failed = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'no-ref',
      'False',
    );
    expect(conditionOf(failed, 'Ready')).toMatchObject({
      reason: 'GitOperationFailed',
      message: `failed to checkout and determine revision: unable to clone '${server.url}/app.git': couldn't find remote ref "refs/heads/master"`,
    });
    expect(conditionOf(failed, 'FetchFailed')?.status).toBe('True');
    // As in source-controller, a failed reconciliation keeps Reconciling and the old generation.
    expect(conditionOf(failed, 'Reconciling')?.status).toBe('True');
    const warning = await waitFor(() =>
      eventsFor(store, failed).find(
        e => (e as { type?: string }).type === 'Warning',
      ),
    );
    expect(warning).toMatchObject({ reason: 'GitOperationFailed' });
  });

  it('authenticates with the secretRef and reports missing or wrong credentials', async () => {
    const privateRoot = await mkdtemp(join(tmpdir(), 'controllers-private-'));
    const privateRepo = await TestRepository.create(privateRoot, 'private');
    const sha = await privateRepo.commit({ 'a.yaml': 'a: 1\n' }, 'private');
    const privateServer = await startGitServer(privateRoot, {
      username: 'deploy',
      password: 's3cret',
    });
    try {
      const { store } = cluster;
      const url = `${privateServer.url}/private.git`;
      store.create(
        gitRepository('no-secret', url, { ref: { branch: 'main' } }),
      );
      store.create(
        gitRepository('missing-secret', url, {
          ref: { branch: 'main' },
          secretRef: { name: 'nope' },
        }),
      );
      store.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'creds', namespace: NAMESPACE },
        stringData: { username: 'deploy', password: 's3cret' },
      });
      store.create(
        gitRepository('with-secret', url, {
          ref: { branch: 'main' },
          secretRef: { name: 'creds' },
        }),
      );

      const noSecret = await waitForReady(
        store,
        GIT_REPOSITORY_TYPE,
        NAMESPACE,
        'no-secret',
        'False',
      );
      expect(conditionOf(noSecret, 'Ready')).toMatchObject({
        reason: 'GitOperationFailed',
        message: `failed to checkout and determine revision: unable to clone '${url}': authentication required`,
      });
      const missing = await waitForReady(
        store,
        GIT_REPOSITORY_TYPE,
        NAMESPACE,
        'missing-secret',
        'False',
      );
      expect(conditionOf(missing, 'Ready')).toMatchObject({
        reason: 'AuthenticationFailed',
        message: `failed to get secret '${NAMESPACE}/nope': secrets "nope" not found`,
      });
      const ok = await waitForReady(
        store,
        GIT_REPOSITORY_TYPE,
        NAMESPACE,
        'with-secret',
      );
      expect(artifactOf(ok)?.revision).toBe(`main@sha1:${sha}`);
    } finally {
      await privateServer.stop();
      await privateRepo.dispose();
      await rm(privateRoot, { recursive: true, force: true });
    }
  });

  it('fetches ssh:// URLs through the sshTransport option and fails without valid keys', async () => {
    const { store } = cluster;
    const url = 'ssh://git@127.0.0.1/group/app.git';
    const secret = (name: string, identity: string) =>
      store.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NAMESPACE },
        stringData: { identity, known_hosts: '127.0.0.1 ssh-ed25519 AAAA' },
      });
    secret('good-ssh', 'good-key');
    secret('bad-ssh', 'bad-key');
    store.create(
      gitRepository('ssh-good', url, {
        ref: { branch: 'main' },
        secretRef: { name: 'good-ssh' },
      }),
    );
    store.create(
      gitRepository('ssh-bad', url, {
        ref: { branch: 'main' },
        secretRef: { name: 'bad-ssh' },
      }),
    );
    store.create(gitRepository('ssh-none', url, { ref: { branch: 'main' } }));

    const good = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'ssh-good',
    );
    expect(artifactOf(good)?.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
    const bad = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'ssh-bad',
      'False',
    );
    expect(conditionOf(bad, 'FetchFailed')?.reason).toBe('GitOperationFailed');
    expect(conditionOf(bad, 'Ready')?.message).toContain(
      'ssh: handshake failed',
    );
    const none = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'ssh-none',
      'False',
    );
    expect(conditionOf(none, 'Ready')).toMatchObject({
      reason: 'AuthenticationFailed',
      message:
        "failed to configure authentication options: invalid 'ssh' auth option: 'identity' is required",
    });
  });

  it('never leaves loopback: other hosts fail as unresolvable', async () => {
    const { store } = cluster;
    store.create(
      gitRepository('remote', 'https://github.com/example/app.git', {
        ref: { branch: 'main' },
      }),
    );
    const failed = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'remote',
      'False',
    );
    expect(conditionOf(failed, 'Ready')?.message).toContain(
      'lookup github.com: no such host',
    );
  });

  it('fails a fetch while the failSourceFetch fault is set and recovers once cleared', async () => {
    const { store, flux } = cluster;
    store.create(
      gitRepository('faulty', `${server.url}/app.git`, {
        ref: { branch: 'main' },
      }),
    );
    await waitForReady(store, GIT_REPOSITORY_TYPE, NAMESPACE, 'faulty');
    flux.faults.failSourceFetch(
      'GitRepository',
      NAMESPACE,
      'faulty',
      'connection reset by peer',
    );
    requestReconcile(store, GIT_REPOSITORY_TYPE, NAMESPACE, 'faulty');
    const failed = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'faulty',
      'False',
    );
    expect(conditionOf(failed, 'Ready')?.message).toBe(
      `failed to checkout and determine revision: unable to clone '${server.url}/app.git': connection reset by peer`,
    );
    // The stored artifact stays advertised while fetching fails.
    expect(artifactOf(failed)).toBeDefined();
    flux.faults.failSourceFetch(
      'GitRepository',
      NAMESPACE,
      'faulty',
      undefined,
    );
    requestReconcile(store, GIT_REPOSITORY_TYPE, NAMESPACE, 'faulty');
    const recovered = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'faulty',
    );
    expect(
      eventsFor(store, recovered).some(
        e => (e as { reason?: string }).reason === 'Succeeded',
      ),
    ).toBe(true);
  });

  it('honours suspend: a requestedAt is recorded but nothing is fetched', async () => {
    const { store } = cluster;
    store.create(
      gitRepository('paused', `${server.url}/app.git`, {
        ref: { branch: 'main' },
      }),
    );
    const ready = await waitForReady(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'paused',
    );
    const before = artifactOf(ready)!;
    store.mergePatch(GIT_REPOSITORY_TYPE, NAMESPACE, 'paused', {
      spec: { suspend: true },
    });
    const newSha = await repo.commit(
      { 'deploy/third.yaml': 'kind: ConfigMap\n' },
      'Third',
    );
    const requestedAt = requestReconcile(
      store,
      GIT_REPOSITORY_TYPE,
      NAMESPACE,
      'paused',
    );
    const handled = await waitFor(() => {
      const object = store.get(GIT_REPOSITORY_TYPE, NAMESPACE, 'paused');
      return (object?.status as { lastHandledReconcileAt?: string })
        .lastHandledReconcileAt === requestedAt
        ? object
        : undefined;
    });
    expect(artifactOf(handled)?.revision).toBe(before.revision);
    expect(artifactOf(handled)?.revision).not.toContain(newSha);
  });

  it('removes the artifacts and its finalizer when deleted', async () => {
    const { store, flux } = cluster;
    store.create(
      gitRepository('doomed', `${server.url}/app.git`, {
        ref: { branch: 'main' },
      }),
    );
    await waitForReady(store, GIT_REPOSITORY_TYPE, NAMESPACE, 'doomed');
    const dir = flux.getArtifactDir('GitRepository', NAMESPACE, 'doomed');
    expect((await readdir(dir)).length).toBe(1);
    store.delete(GIT_REPOSITORY_TYPE, NAMESPACE, 'doomed');
    await waitFor(
      () => store.get(GIT_REPOSITORY_TYPE, NAMESPACE, 'doomed') === undefined,
    );
    await expect(readdir(dir)).rejects.toThrow();
  });
});
