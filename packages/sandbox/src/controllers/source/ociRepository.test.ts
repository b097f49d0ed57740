import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../kube/types';
import { pushArtifact, startRegistry, type RunningRegistry } from '../../oci';
import {
  conditionOf,
  eventsFor,
  startTestCluster,
  waitForReady,
  type TestCluster,
} from '../__testUtils__/cluster';
import { KUSTOMIZATION_TYPE } from '../kustomize';
import { OCI_REPOSITORY_TYPE } from '.';

const NS = 'flux-system';
const ORIGIN = 'main@sha1:0123456789abcdef0123456789abcdef01234567';
const SOURCE = 'https://gitlab.example.com/group/app.git';

function ociRepository(
  name: string,
  url: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    ...OCI_REPOSITORY_TYPE,
    metadata: { name, namespace: NS },
    spec: { interval: '10m', url, ref: { tag: 'v1' }, ...spec },
  };
}

describe('source-controller OCIRepository (real registry)', () => {
  let workDir: string;
  let registry: RunningRegistry;
  let cluster: TestCluster;
  let digest: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'controllers-oci-'));
    registry = await startRegistry({
      dataDir: join(workDir, 'registry'),
      authorize: ({ username, password }) =>
        username === 'puller' && password === 'secret'
          ? true
          : 'unauthenticated',
    });
    const content = join(workDir, 'content');
    await mkdir(join(content, 'deploy'), { recursive: true });
    await writeFile(
      join(content, 'deploy', 'configmap.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\n  namespace: default\ndata:\n  a: "1"\n',
    );
    ({ digest } = await pushArtifact({
      url: `oci://${registry.host}/fleet/app`,
      tag: 'v1',
      sourceDir: content,
      source: SOURCE,
      revision: ORIGIN,
      credentials: { username: 'puller', password: 'secret' },
    }));
    cluster = await startTestCluster();
    cluster.store.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
  });

  afterAll(async () => {
    await cluster?.dispose();
    await registry?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('pulls with dockerconfigjson credentials, and a Kustomization on it reports the origin revision', async () => {
    const { store } = cluster;
    const url = `oci://${registry.host}/fleet/app`;
    store.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'registry', namespace: NS },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: {
        '.dockerconfigjson': JSON.stringify({
          auths: {
            [registry.host]: {
              auth: Buffer.from('puller:secret').toString('base64'),
            },
          },
        }),
      },
    });
    store.create(
      ociRepository('app', url, { secretRef: { name: 'registry' } }),
    );
    store.create(ociRepository('anonymous', url));

    const ready = await waitForReady(store, OCI_REPOSITORY_TYPE, NS, 'app');
    const artifact = (ready.status as any).artifact;
    expect(artifact).toMatchObject({
      revision: `v1@${digest}`,
      path: `ocirepository/${NS}/app/${digest.slice('sha256:'.length)}.tar.gz`,
      metadata: {
        'org.opencontainers.image.revision': ORIGIN,
        'org.opencontainers.image.source': SOURCE,
      },
    });
    expect(conditionOf(ready, 'Ready')?.message).toBe(
      `stored artifact for digest 'v1@${digest}'`,
    );
    expect(
      (eventsFor(store, ready) as any[]).find(e => e.reason === 'NewArtifact')
        ?.message,
    ).toBe(
      `stored artifact with revision 'v1@${digest}' from '${url}', origin source '${SOURCE}', origin revision '${ORIGIN}'`,
    );

    const anonymous = await waitForReady(
      store,
      OCI_REPOSITORY_TYPE,
      NS,
      'anonymous',
      'False',
    );
    expect(conditionOf(anonymous, 'Ready')).toMatchObject({
      reason: 'OCIArtifactPullFailed',
      message: expect.stringMatching(/^failed to determine artifact digest: /),
    });

    store.create({
      ...KUSTOMIZATION_TYPE,
      metadata: { name: 'from-oci', namespace: NS },
      spec: {
        interval: '10m',
        path: './deploy',
        prune: true,
        sourceRef: { kind: 'OCIRepository', name: 'app' },
      },
    });
    const applied = await waitForReady(
      store,
      KUSTOMIZATION_TYPE,
      NS,
      'from-oci',
    );
    expect(applied.status).toMatchObject({
      lastAppliedRevision: `v1@${digest}`,
      lastAppliedOriginRevision: ORIGIN,
      history: [
        expect.objectContaining({
          metadata: { revision: `v1@${digest}`, originRevision: ORIGIN },
        }),
      ],
    });
    expect(
      store.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'default', 'from-oci'),
    ).toBeDefined();
    const succeeded = (eventsFor(store, applied) as any[]).find(
      e => e.reason === 'ReconciliationSucceeded',
    );
    expect(succeeded.metadata.annotations).toMatchObject({
      'kustomize.toolkit.fluxcd.io/revision': `v1@${digest}`,
      'kustomize.toolkit.fluxcd.io/originRevision': ORIGIN,
    });
  });

  it('stalls on a URL that is not oci://', async () => {
    const { store } = cluster;
    store.create(ociRepository('bad-url', `oci://${registry.host}`));
    const stalled = await waitForReady(
      store,
      OCI_REPOSITORY_TYPE,
      NS,
      'bad-url',
      'False',
    );
    expect(conditionOf(stalled, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'URLInvalid',
    });
    expect(conditionOf(stalled, 'Reconciling')).toBeUndefined();
  });
});
