import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KubeObject } from '../kube/types';
import { KustomizeBuildError, buildKustomization } from './index';

type Tree = Record<string, string>;

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kustomize-test-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(tree: Tree, base = root): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(dirname(join(base, path)), { recursive: true });
    await writeFile(join(base, path), content);
  }
}

function find(objects: KubeObject[], kind: string, name: string): any {
  const found = objects.find(o => o.kind === kind && o.metadata.name === name);
  if (!found) {
    throw new Error(
      `no ${kind} ${name} in ${objects
        .map(o => `${o.kind}/${o.metadata.name}`)
        .join(', ')}`,
    );
  }
  return found;
}

const ids = (objects: KubeObject[]) =>
  objects.map(
    o =>
      `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${
        o.metadata.name
      }`,
  );

const deliveryRepo: Tree = {
  'apps/base/kustomization.yaml': `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
labels:
  - pairs:
      app.kubernetes.io/part-of: podinfo
configMapGenerator:
  - name: podinfo-config
    literals:
      - PODINFO_UI_MESSAGE=hello
`,
  'apps/base/deployment.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.5.0
          ports:
            - name: http
              containerPort: 9898
          env:
            - name: PODINFO_UI_COLOR
              value: "#34577c"
          envFrom:
            - configMapRef:
                name: podinfo-config
          volumeMounts:
            - name: config
              mountPath: /etc/podinfo
      volumes:
        - name: config
          configMap:
            name: podinfo-config
`,
  'apps/base/service.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  selector:
    app: podinfo
  ports:
    - name: http
      port: 9898
      targetPort: http
`,
  'apps/dev/kustomization.yaml': `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
namePrefix: dev-
resources:
  - ../base
replicas:
  - name: podinfo
    count: 1
images:
  - name: ghcr.io/stefanprodan/podinfo
    newTag: 6.5.1
patches:
  - path: debug-patch.yaml
`,
  'apps/dev/debug-patch.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  template:
    spec:
      containers:
        - name: podinfod
          env:
            - name: PODINFO_LOG_LEVEL
              value: debug
`,
  'apps/prod/kustomization.yaml': `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
namePrefix: prod-
resources:
  - namespace.yaml
  - ../base
commonLabels:
  env: prod
commonAnnotations:
  team: platform
replicas:
  - name: podinfo
    count: 3
images:
  - name: ghcr.io/stefanprodan/podinfo
    newName: registry.example/podinfo
    newTag: "1.10"
configMapGenerator:
  - name: podinfo-config
    behavior: merge
    literals:
      - PODINFO_UI_MESSAGE=production
patches:
  - target:
      kind: Deployment
      name: podin.*
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/args
        value: ["--level=info"]
  - target:
      kind: Deployment
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ignored
      spec:
        template:
          spec:
            containers:
              - name: podinfod
                resources:
                  limits:
                    memory: 512Mi
`,
  'apps/prod/namespace.yaml': `
apiVersion: v1
kind: Namespace
metadata:
  name: prod
`,
};

describe('buildKustomization with a base and overlays', () => {
  it('builds the base with a hashed ConfigMap that the Deployment refers to', async () => {
    await write(deliveryRepo);
    const objects = await buildKustomization(root, './apps/base');
    const configMapName = objects[0].metadata.name;
    expect(configMapName).toMatch(/^podinfo-config-[a-z0-9]{10}$/);
    expect(ids(objects)).toEqual([
      `ConfigMap/${configMapName}`,
      'Service/podinfo',
      'Deployment/podinfo',
    ]);
    const deployment = find(objects, 'Deployment', 'podinfo');
    const podSpec = deployment.spec.template.spec;
    expect(podSpec.volumes[0].configMap.name).toBe(configMapName);
    expect(podSpec.containers[0].envFrom[0].configMapRef.name).toBe(
      configMapName,
    );
    // `labels` without includeSelectors leaves selectors and templates alone.
    expect(deployment.metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'podinfo',
    });
    expect(deployment.spec.selector.matchLabels).toEqual({ app: 'podinfo' });
    expect(deployment.spec.template.metadata.labels).toEqual({
      app: 'podinfo',
    });
  });

  it('builds the dev overlay: namespace, prefix, replicas, image tag and a strategic-merge patch', async () => {
    await write(deliveryRepo);
    const objects = await buildKustomization(root, 'apps/dev');
    const configMap = objects.find(o => o.kind === 'ConfigMap')!;
    expect(configMap.metadata).toMatchObject({ namespace: 'dev' });
    expect(configMap.metadata.name).toMatch(
      /^dev-podinfo-config-[a-z0-9]{10}$/,
    );
    expect(ids(objects)).toEqual([
      `ConfigMap/dev/${configMap.metadata.name}`,
      'Service/dev/dev-podinfo',
      'Deployment/dev/dev-podinfo',
    ]);
    const deployment = find(objects, 'Deployment', 'dev-podinfo');
    expect(deployment.spec.replicas).toBe(1);
    const [container] = deployment.spec.template.spec.containers;
    expect(container.image).toBe('ghcr.io/stefanprodan/podinfo:6.5.1');
    expect(container.env).toEqual([
      { name: 'PODINFO_UI_COLOR', value: '#34577c' },
      { name: 'PODINFO_LOG_LEVEL', value: 'debug' },
    ]);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 9898 }]);
    expect(container.envFrom[0].configMapRef.name).toBe(
      configMap.metadata.name,
    );
    expect(deployment.spec.template.spec.volumes[0].configMap.name).toBe(
      configMap.metadata.name,
    );
  });

  it('builds the prod overlay: labels into selectors, merged generator, JSON 6902 and targeted patches', async () => {
    await write(deliveryRepo);
    const objects = await buildKustomization(root, 'apps/prod');
    const configMap = objects.find(o => o.kind === 'ConfigMap')!;
    expect(ids(objects)).toEqual([
      'Namespace/prod',
      `ConfigMap/prod/${configMap.metadata.name}`,
      'Service/prod/prod-podinfo',
      'Deployment/prod/prod-podinfo',
    ]);
    expect(configMap.data).toEqual({ PODINFO_UI_MESSAGE: 'production' });
    expect(configMap.metadata.name).toMatch(
      /^prod-podinfo-config-[a-z0-9]{10}$/,
    );

    const namespace = find(objects, 'Namespace', 'prod');
    expect(namespace.metadata.namespace).toBeUndefined();
    expect(namespace.metadata.labels).toEqual({ env: 'prod' });

    const service = find(objects, 'Service', 'prod-podinfo');
    expect(service.spec.selector).toEqual({ app: 'podinfo', env: 'prod' });

    const deployment = find(objects, 'Deployment', 'prod-podinfo');
    expect(deployment.metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'podinfo',
      env: 'prod',
    });
    expect(deployment.metadata.annotations).toEqual({ team: 'platform' });
    expect(deployment.spec.selector.matchLabels).toEqual({
      app: 'podinfo',
      env: 'prod',
    });
    expect(deployment.spec.template.metadata).toEqual({
      labels: { app: 'podinfo', env: 'prod' },
      annotations: { team: 'platform' },
    });
    expect(deployment.spec.replicas).toBe(3);
    const [container] = deployment.spec.template.spec.containers;
    expect(container.image).toBe('registry.example/podinfo:1.10');
    expect(container.args).toEqual(['--level=info']);
    expect(container.resources).toEqual({ limits: { memory: '512Mi' } });
    expect(container.envFrom[0].configMapRef.name).toBe(
      configMap.metadata.name,
    );
  });

  it('applies Flux Kustomization overrides the way Flux rewrites kustomization.yaml', async () => {
    await write(deliveryRepo);
    const objects = await buildKustomization(root, 'apps/dev', {
      namespace: 'team-a',
      images: [{ name: 'ghcr.io/stefanprodan/podinfo', newTag: '7.0.0' }],
      patches: [
        {
          target: { kind: 'Service' },
          patch: '- op: replace\n  path: /spec/ports/0/port\n  value: 80\n',
        },
      ],
    });
    expect(objects.every(o => o.metadata.namespace === 'team-a')).toBe(true);
    expect(
      find(objects, 'Deployment', 'dev-podinfo').spec.template.spec
        .containers[0].image,
    ).toBe('ghcr.io/stefanprodan/podinfo:7.0.0');
    expect(find(objects, 'Service', 'dev-podinfo').spec.ports[0].port).toBe(80);
  });
});

describe('configMapGenerator and secretGenerator', () => {
  it('computes the same name hashes as kustomize', async () => {
    await write({
      'kustomization.yaml': `
configMapGenerator:
  - name: example-configmap-1
    files:
      - application.properties
  - name: example-configmap-2
    literals:
      - FOO=Bar
secretGenerator:
  - name: example-secret-1
    files:
      - password.txt
`,
      'application.properties': 'FOO=Bar\n',
      'password.txt': 'username=admin\npassword=secret\n',
    });
    const objects = await buildKustomization(root, '.');
    expect(ids(objects)).toEqual([
      'ConfigMap/example-configmap-1-8mbdf7882g',
      'ConfigMap/example-configmap-2-g2hdhfc6tk',
      'Secret/example-secret-1-t2kt65hgtb',
    ]);
    expect(
      find(objects, 'Secret', 'example-secret-1-t2kt65hgtb'),
    ).toMatchObject({
      type: 'Opaque',
      data: { 'password.txt': 'dXNlcm5hbWU9YWRtaW4KcGFzc3dvcmQ9c2VjcmV0Cg==' },
    });
  });

  it('honours disableNameSuffixHash, generator labels, env files and secret references', async () => {
    await write({
      'kustomization.yaml': `
resources:
  - deployment.yaml
generatorOptions:
  disableNameSuffixHash: true
  labels:
    generated: "true"
secretGenerator:
  - name: db
    envs:
      - db.env
configMapGenerator:
  - name: settings
    options:
      disableNameSuffixHash: false
    literals:
      - MODE="fast"
`,
      'db.env': '# database\nUSER=app\nPASSWORD=s3cret=x\n',
      'deployment.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: api
          env:
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {name: db, key: PASSWORD}
            - name: MODE
              valueFrom:
                configMapKeyRef: {name: settings, key: MODE}
`,
    });
    const objects = await buildKustomization(root, '');
    const secret = find(objects, 'Secret', 'db');
    expect(secret.metadata.labels).toEqual({ generated: 'true' });
    expect(Buffer.from(secret.data.PASSWORD, 'base64').toString()).toBe(
      's3cret=x',
    );
    const configMap = objects.find(o => o.kind === 'ConfigMap')!;
    expect(configMap.metadata.name).toMatch(/^settings-[a-z0-9]{10}$/);
    expect(configMap.data).toEqual({ MODE: 'fast' });
    const env = find(objects, 'Deployment', 'api').spec.template.spec
      .containers[0].env;
    expect(env[0].valueFrom.secretKeyRef.name).toBe('db');
    expect(env[1].valueFrom.configMapKeyRef.name).toBe(configMap.metadata.name);
  });
});

describe('the Flux fallback when there is no kustomization file', () => {
  it('takes every Kubernetes YAML file recursively and ignores other files', async () => {
    await write({
      'clusters/dev/infra/namespace.yaml':
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: infra\n',
      'clusters/dev/apps.yaml': `
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  namespace: infra
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: infra
`,
      'clusters/dev/values.yaml': 'replicaCount: 2\nimage:\n  tag: latest\n',
      'clusters/dev/README.md': '# not yaml\n',
      'clusters/dev/notes.txt':
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: nope\n',
      'clusters/dev/sub/kustomization.yaml':
        'resources:\n  - svc.yaml\nnamePrefix: sub-\n',
      'clusters/dev/sub/svc.yaml':
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n',
    });
    const objects = await buildKustomization(root, './clusters/dev');
    expect(ids(objects)).toEqual([
      'Namespace/infra',
      'ConfigMap/infra/a',
      'ConfigMap/infra/b',
      'Service/sub-svc',
    ]);
  });
});

describe('build errors', () => {
  it('refuses paths that leave the root directory', async () => {
    await write({
      'outside.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: secret-stuff\n',
    });
    const repo = join(root, 'repo');
    await write(
      { 'apps/kustomization.yaml': 'resources:\n  - ../../outside.yaml\n' },
      repo,
    );
    const error = await buildKustomization(repo, 'apps').catch(e => e);
    expect(error).toBeInstanceOf(KustomizeBuildError);
    expect(error.message).toMatch(
      /^accumulating resources: .*security; file '.*outside\.yaml' is not in or below '.*repo'/,
    );

    await expect(buildKustomization(repo, '../')).rejects.toThrow(
      /is not in or below/,
    );
  });

  it('refuses symlinks that point outside the root', async () => {
    await write({
      'outside/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n',
    });
    const repo = join(root, 'repo');
    await write(
      { 'apps/kustomization.yaml': 'resources:\n  - linked\n' },
      repo,
    );
    await symlink(join(root, 'outside'), join(repo, 'apps', 'linked'));
    await expect(buildKustomization(repo, 'apps')).rejects.toThrow(
      /security; file .* is not in or below/,
    );
  });

  it('reports a missing resource like kustomize', async () => {
    await write({ 'kustomization.yaml': 'resources:\n  - missing.yaml\n' });
    await expect(buildKustomization(root, '.')).rejects.toThrow(
      /^accumulating resources: accumulation err='accumulating resources from 'missing\.yaml': open .*missing\.yaml: no such file or directory'/,
    );
  });

  it('reports a missing path like Flux', async () => {
    await expect(buildKustomization(root, 'nowhere')).rejects.toThrow(
      /^kustomization path not found: stat .*nowhere: no such file or directory$/,
    );
  });

  it('rejects duplicate resource ids', async () => {
    const configMap =
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n';
    await write({
      'kustomization.yaml': 'resources:\n  - a.yaml\n  - b.yaml\n',
      'a.yaml': configMap,
      'b.yaml': configMap,
    });
    await expect(buildKustomization(root, '.')).rejects.toThrow(
      "accumulating resources: accumulating resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/settings.[noNs]",
    );
  });

  it('rejects a patch whose target does not exist', async () => {
    await write({
      'kustomization.yaml':
        'resources:\n  - cm.yaml\npatches:\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: ghost\n      spec:\n        replicas: 2\n',
      'cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n',
    });
    await expect(buildKustomization(root, '.')).rejects.toThrow(
      /no matches for Id Deployment\.v1\.apps\/ghost\.\[noNs\]/,
    );
  });

  it('rejects fields it does not implement instead of ignoring them', async () => {
    await write({ 'kustomization.yaml': 'resources: []\nreplacements: []\n' });
    await expect(buildKustomization(root, '.')).rejects.toThrow(
      /'replacements' is not supported/,
    );
  });
});
