import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KubeObject } from '../kube/types';
import { buildKustomization } from './index';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kustomize-features-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(tree: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

function find(objects: KubeObject[], kind: string, name: string): any {
  const found = objects.find(o => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(
      `no ${kind} ${name} in ${objects
        .map(o => `${o.kind}/${o.metadata.name}`)
        .join(', ')}`,
    );
  return found;
}

const deployment = (name: string, extra = '') => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    tier: backend
spec:
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      serviceAccountName: runner
      containers:
        - name: main
          image: nginx:1.25
          volumeMounts:
            - {name: cache, mountPath: /cache}
        - name: sidecar
          image: busybox
${extra}`;

describe('kustomize features', () => {
  it('applies components to the including kustomization', async () => {
    await write({
      'base/kustomization.yaml': 'resources:\n  - deploy.yaml\n',
      'base/deploy.yaml': deployment('web'),
      'components/metrics/kustomization.yaml': `
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - monitor.yaml
patches:
  - target: {kind: Deployment}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: any}
      spec:
        template:
          spec:
            containers:
              - name: exporter
                image: prom/exporter:v1
`,
      'components/metrics/monitor.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: monitor\n',
      'overlay/kustomization.yaml':
        'namespace: apps\nresources:\n  - ../base\ncomponents:\n  - ../components/metrics\n',
    });
    const objects = await buildKustomization(root, 'overlay');
    expect(find(objects, 'ConfigMap', 'monitor').metadata.namespace).toBe(
      'apps',
    );
    const containers = find(objects, 'Deployment', 'web').spec.template.spec
      .containers;
    expect(containers.map((c: any) => c.name)).toEqual([
      'main',
      'sidecar',
      'exporter',
    ]);

    await write({
      'wrong/kustomization.yaml': 'resources:\n  - ../components/metrics\n',
    });
    await expect(buildKustomization(root, 'wrong')).rejects.toThrow(
      /expected kind != 'Component'/,
    );
    await write({ 'wrong2/kustomization.yaml': 'components:\n  - ../base\n' });
    await expect(buildKustomization(root, 'wrong2')).rejects.toThrow(
      /expected kind 'Component' for path '.*base' but got 'Kustomization'/,
    );
  });

  it('applies legacy patchesStrategicMerge with delete directives and patchesJson6902', async () => {
    await write({
      'kustomization.yaml': `
resources:
  - deploy.yaml
  - extra.yaml
patchesStrategicMerge:
  - remove-sidecar.yaml
  - |-
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: obsolete
    $patch: delete
patchesJson6902:
  - target: {group: apps, version: v1, kind: Deployment, name: web}
    path: json-patch.yaml
`,
      'deploy.yaml': deployment('web'),
      'extra.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: obsolete\n',
      'remove-sidecar.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: sidecar
          $patch: delete
        - name: main
          volumeMounts:
            - {mountPath: /cache, readOnly: true}
`,
      'json-patch.yaml': `
- op: replace
  path: /spec/template/spec/containers/0/image
  value: nginx:1.27
- op: add
  path: /metadata/annotations
  value: {a~b/c: "1"}
- op: copy
  from: /metadata/annotations/a~0b~1c
  path: /metadata/annotations/copied
`,
    });
    const objects = await buildKustomization(root, '.');
    expect(objects.map(o => o.kind)).toEqual(['Deployment']);
    const web = find(objects, 'Deployment', 'web');
    expect(web.spec.template.spec.containers).toEqual([
      {
        name: 'main',
        image: 'nginx:1.27',
        volumeMounts: [{ name: 'cache', mountPath: '/cache', readOnly: true }],
      },
    ]);
    expect(web.metadata.annotations).toEqual({ 'a~b/c': '1', copied: '1' });
  });

  it('selects patch targets by label and annotation selectors and namespace', async () => {
    await write({
      'kustomization.yaml': `
resources:
  - all.yaml
patches:
  - target: {labelSelector: "tier in (backend),!legacy"}
    patch: |-
      - {op: add, path: /metadata/annotations, value: {patched: "labels"}}
  - target: {annotationSelector: "owner=team-b", namespace: other}
    patch: |-
      - {op: add, path: /metadata/labels, value: {patched: "annotations"}}
`,
      'all.yaml': `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {tier: backend}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {tier: backend, legacy: "true"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: other, annotations: {owner: team-b}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, annotations: {owner: team-b}}
`,
    });
    const objects = await buildKustomization(root, '.');
    expect(find(objects, 'ConfigMap', 'a').metadata.annotations).toEqual({
      patched: 'labels',
    });
    expect(
      find(objects, 'ConfigMap', 'b').metadata.annotations,
    ).toBeUndefined();
    expect(find(objects, 'ConfigMap', 'c').metadata.labels).toEqual({
      patched: 'annotations',
    });
    expect(find(objects, 'ConfigMap', 'd').metadata.labels).toBeUndefined();
  });

  it('rewrites images in containers and initContainers of any kind, with digests', async () => {
    await write({
      'kustomization.yaml': `
resources:
  - cron.yaml
images:
  - name: registry.local:5000/tools/migrate
    newTag: v2
  - name: busybox
    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
  - name: nginx
    newName: mirror.local/nginx
`,
      'cron.yaml': `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - {name: migrate, image: "registry.local:5000/tools/migrate:v1"}
          containers:
            - {name: a, image: "busybox:1.36"}
            - {name: b, image: "nginx@sha256:2222222222222222222222222222222222222222222222222222222222222222"}
            - {name: c, image: "nginx-extra:1"}
`,
    });
    const [cron] = (await buildKustomization(root, '.')) as any[];
    const spec = cron.spec.jobTemplate.spec.template.spec;
    expect(spec.initContainers[0].image).toBe(
      'registry.local:5000/tools/migrate:v2',
    );
    expect(spec.containers.map((c: any) => c.image)).toEqual([
      'busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111',
      'mirror.local/nginx@sha256:2222222222222222222222222222222222222222222222222222222222222222',
      'nginx-extra:1',
    ]);
  });

  it('follows renames in RBAC and pod references and moves "default" subjects with the namespace', async () => {
    await write({
      'kustomization.yaml':
        'namespace: apps\nnamePrefix: team-\nresources:\n  - rbac.yaml\n  - deploy.yaml\n',
      'deploy.yaml': deployment('web'),
      'rbac.yaml': `
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
  - {kind: ServiceAccount, name: runner}
  - {kind: ServiceAccount, name: default, namespace: elsewhere}
  - {kind: User, name: jane}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: viewer}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: runner-views}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: viewer}
subjects:
  - {kind: ServiceAccount, name: runner, namespace: default}
`,
    });
    const objects = await buildKustomization(root, '.');
    expect(objects.map(o => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/team-runner',
      'Role/team-reader',
      'ClusterRole/team-viewer',
      'RoleBinding/team-runner-reads',
      'ClusterRoleBinding/team-runner-views',
      'Deployment/team-web',
    ]);
    const binding = find(objects, 'RoleBinding', 'team-runner-reads');
    expect(binding.roleRef.name).toBe('team-reader');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'team-runner', namespace: 'apps' },
      { kind: 'ServiceAccount', name: 'default', namespace: 'apps' },
      { kind: 'User', name: 'jane' },
    ]);
    const clusterBinding = find(
      objects,
      'ClusterRoleBinding',
      'team-runner-views',
    );
    expect(clusterBinding.metadata.namespace).toBeUndefined();
    expect(clusterBinding.roleRef.name).toBe('team-viewer');
    expect(clusterBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'team-runner', namespace: 'apps' },
    ]);
    expect(
      find(objects, 'Deployment', 'team-web').spec.template.spec
        .serviceAccountName,
    ).toBe('team-runner');
  });

  it('puts labels into templates only when asked, and expands List documents', async () => {
    await write({
      'kustomization.yaml': `
resources:
  - list.yaml
labels:
  - pairs: {team: a}
    includeTemplates: true
  - pairs: {version: 1.10}
`,
      'list.yaml': `
apiVersion: v1
kind: List
items:
  - ${deployment('web').trim().split('\n').join('\n    ')}
`,
    });
    const [web] = (await buildKustomization(root, '.')) as any[];
    expect(web.metadata.labels).toEqual({
      tier: 'backend',
      team: 'a',
      version: '1.10',
    });
    expect(web.spec.template.metadata.labels).toEqual({
      app: 'web',
      team: 'a',
    });
    expect(web.spec.selector.matchLabels).toEqual({ app: 'web' });
  });

  it('orders output like kustomize legacy sort and drops local config', async () => {
    await write({
      'kustomization.yaml': 'resources:\n  - mixed.yaml\n',
      'mixed.yaml': [
        'apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: hooks}',
        'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: redis, namespace: apps}',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: apps}',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: apps}',
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}',
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}',
        'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: apps}',
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fn-config\n  annotations: {config.kubernetes.io/local-config: "true"}',
      ].join('\n---\n'),
    });
    const objects = await buildKustomization(root, '.');
    expect(objects.map(o => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/apps',
      'CustomResourceDefinition/widgets.example.com',
      'Deployment/a',
      'Deployment/b',
      'HelmRelease/redis',
      'GitRepository/repo',
      'ValidatingWebhookConfiguration/hooks',
    ]);
  });

  it('detects cycles between kustomizations', async () => {
    await write({
      'a/kustomization.yaml': 'resources:\n  - ../b\n',
      'b/kustomization.yaml': 'resources:\n  - ../a\n',
    });
    await expect(buildKustomization(root, 'a')).rejects.toThrow(
      /cycle detected/,
    );
  });
});
