import { createHash } from 'node:crypto';
import type { KubeObject, ResourceType } from './types';
import { FLUX_COLUMNS, type PrinterColumn } from './table';
import {
  FieldValidationError,
  NameRule,
  schemaErrorsToCauses,
  validateObjectMeta,
  type FieldCause,
} from './validation';

/** A served type plus the defaulting the API server applies before validation on every write. */
export interface ServedResourceType extends ResourceType {
  applyDefaults?(object: KubeObject): void;
}

export type SourceApiVersion = 'v1' | 'v1beta2';

export interface ResourceTypeOptions {
  /**
   * Versions of `source.toolkit.fluxcd.io` served. Flux 2.8+ serves only v1; Flux 2.6-2.7
   * serve v1 and v1beta2. Default: both.
   */
  sourceVersions?: SourceApiVersion[];
  /** `false` models a cluster without Flux installed: core kinds only. */
  flux?: boolean;
  /** A further filter, e.g. to leave out the notification controller's kinds. */
  include?: (type: ResourceType) => boolean;
}

interface ModelClass {
  new (data: object): { validate(): void };
}

type ModelModule = Record<string, unknown>;

interface KindDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  statusSubresource: boolean;
  shortNames?: string[];
  categories?: string[];
  printerColumns?: PrinterColumn[];
  nameRule: NameRule;
  module: string;
  applyDefaults?(object: KubeObject): void;
  extraValidation?(object: KubeObject): FieldCause[];
}

const FLUX_SOURCE_GROUP = 'source.toolkit.fluxcd.io';

const CORE_KINDS: KindDefinition[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    singular: 'namespace',
    namespaced: false,
    statusSubresource: true,
    shortNames: ['ns'],
    nameRule: 'dns1123Label',
    module: 'kubernetes-models/v1',
    applyDefaults: defaultNamespace,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Secret',
    plural: 'secrets',
    singular: 'secret',
    namespaced: true,
    statusSubresource: false,
    nameRule: 'dns1123Subdomain',
    module: 'kubernetes-models/v1',
    applyDefaults: defaultSecret,
  },
  {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    singular: 'configmap',
    namespaced: true,
    statusSubresource: false,
    shortNames: ['cm'],
    nameRule: 'dns1123Subdomain',
    module: 'kubernetes-models/v1',
  },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    singular: 'service',
    namespaced: true,
    statusSubresource: true,
    shortNames: ['svc'],
    categories: ['all'],
    nameRule: 'dns1035Label',
    module: 'kubernetes-models/v1',
    applyDefaults: defaultService,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    namespaced: true,
    statusSubresource: false,
    shortNames: ['ev'],
    nameRule: 'dns1123Subdomain',
    module: 'kubernetes-models/v1',
  },
  {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    namespaced: true,
    statusSubresource: false,
    shortNames: ['sa'],
    nameRule: 'dns1123Subdomain',
    module: 'kubernetes-models/v1',
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    singular: 'deployment',
    namespaced: true,
    statusSubresource: true,
    shortNames: ['deploy'],
    categories: ['all'],
    nameRule: 'dns1123Subdomain',
    module: 'kubernetes-models/apps/v1',
    applyDefaults: defaultDeployment,
    extraValidation: validateDeploymentSelector,
  },
];

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function rbacKind(
  kind: string,
  plural: string,
  namespaced: boolean,
): KindDefinition {
  return {
    group: RBAC_GROUP,
    version: 'v1',
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    statusSubresource: false,
    nameRule: 'pathSegment',
    module: `kubernetes-models/${RBAC_GROUP}/v1`,
  };
}

/** RBAC, evaluated from these stored objects when a Flux controller impersonates an account. */
const RBAC_KINDS: KindDefinition[] = [
  rbacKind('Role', 'roles', true),
  rbacKind('RoleBinding', 'rolebindings', true),
  rbacKind('ClusterRole', 'clusterroles', false),
  rbacKind('ClusterRoleBinding', 'clusterrolebindings', false),
];

/** The category each Flux group's CRDs add beside `all` and `fluxcd`. */
const FLUX_CATEGORIES: Record<string, string> = {
  [FLUX_SOURCE_GROUP]: 'fluxcd-sources',
  'kustomize.toolkit.fluxcd.io': 'fluxcd-appliers',
  'helm.toolkit.fluxcd.io': 'fluxcd-appliers',
  'notification.toolkit.fluxcd.io': 'fluxcd-notifications',
};

/** The printer columns of each Flux CRD (as their modules ship them). */
const {
  age: AGE,
  ready: READY,
  status: STATUS,
  url: URL_COLUMN,
} = FLUX_COLUMNS;
const FLUX_PRINTER_COLUMNS: Record<string, PrinterColumn[]> = {
  GitRepository: [URL_COLUMN, AGE, READY, STATUS],
  HelmRepository: [URL_COLUMN, AGE, READY, STATUS],
  OCIRepository: [URL_COLUMN, READY, STATUS, AGE],
  Bucket: [
    { name: 'Endpoint', type: 'string', jsonPath: '.spec.endpoint' },
    AGE,
    READY,
    STATUS,
  ],
  HelmChart: [
    { name: 'Chart', type: 'string', jsonPath: '.spec.chart' },
    { name: 'Version', type: 'string', jsonPath: '.spec.version' },
    { name: 'Source Kind', type: 'string', jsonPath: '.spec.sourceRef.kind' },
    { name: 'Source Name', type: 'string', jsonPath: '.spec.sourceRef.name' },
    AGE,
    READY,
    STATUS,
  ],
  Kustomization: [AGE, READY, STATUS],
  HelmRelease: [AGE, READY, STATUS],
  Receiver: [AGE, READY, STATUS],
  Provider: [AGE],
  Alert: [AGE],
};

function fluxKind(
  group: string,
  version: string,
  kind: string,
  plural: string,
  shortNames?: string[],
): KindDefinition {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: true,
    statusSubresource: true,
    shortNames,
    categories: ['all', 'fluxcd', FLUX_CATEGORIES[group]],
    printerColumns: FLUX_PRINTER_COLUMNS[kind],
    nameRule: 'dns1123Subdomain',
    module: `@kubernetes-models/flux-cd/${group}/${version}`,
  };
}

function sourceKinds(version: SourceApiVersion): KindDefinition[] {
  return [
    fluxKind(FLUX_SOURCE_GROUP, version, 'GitRepository', 'gitrepositories', [
      'gitrepo',
    ]),
    fluxKind(FLUX_SOURCE_GROUP, version, 'OCIRepository', 'ocirepositories', [
      'ocirepo',
    ]),
    fluxKind(FLUX_SOURCE_GROUP, version, 'HelmRepository', 'helmrepositories', [
      'helmrepo',
    ]),
    fluxKind(FLUX_SOURCE_GROUP, version, 'HelmChart', 'helmcharts', ['hc']),
    fluxKind(FLUX_SOURCE_GROUP, version, 'Bucket', 'buckets'),
  ];
}

const OTHER_FLUX_KINDS: KindDefinition[] = [
  fluxKind(
    'kustomize.toolkit.fluxcd.io',
    'v1',
    'Kustomization',
    'kustomizations',
    ['ks'],
  ),
  fluxKind('helm.toolkit.fluxcd.io', 'v2', 'HelmRelease', 'helmreleases', [
    'hr',
  ]),
  fluxKind('notification.toolkit.fluxcd.io', 'v1', 'Receiver', 'receivers'),
  fluxKind(
    'notification.toolkit.fluxcd.io',
    'v1beta3',
    'Provider',
    'providers',
  ),
  fluxKind('notification.toolkit.fluxcd.io', 'v1beta3', 'Alert', 'alerts'),
];

function defaultNamespace(object: KubeObject): void {
  object.metadata.labels = {
    ...object.metadata.labels,
    'kubernetes.io/metadata.name': object.metadata.name,
  };
  object.spec = {
    finalizers: ['kubernetes'],
    ...(object.spec as object | undefined),
  };
  object.status = { phase: 'Active', ...(object.status as object | undefined) };
}

/** The API server folds write-only `stringData` into base64 `data`. */
function defaultSecret(object: KubeObject): void {
  const stringData = object.stringData as Record<string, unknown> | undefined;
  if (stringData && typeof stringData === 'object') {
    const data = { ...(object.data as Record<string, string> | undefined) };
    for (const [key, value] of Object.entries(stringData)) {
      data[key] = Buffer.from(String(value), 'utf8').toString('base64');
    }
    object.data = data;
  }
  delete object.stringData;
  object.type ??= 'Opaque';
}

/** A stable ClusterIP per Service so that replays give the same answers. */
function clusterIpFor(namespace: string, name: string): string {
  const digest = createHash('sha256').update(`${namespace}/${name}`).digest();
  return `10.96.${digest[0]}.${(digest[1] % 253) + 1}`;
}

function defaultService(object: KubeObject): void {
  const spec = { ...(object.spec as Record<string, unknown> | undefined) };
  spec.type ??= 'ClusterIP';
  if (spec.type !== 'ExternalName') {
    spec.clusterIP ??= clusterIpFor(
      object.metadata.namespace ?? '',
      object.metadata.name,
    );
    spec.clusterIPs ??= [spec.clusterIP];
  }
  spec.sessionAffinity ??= 'None';
  if (Array.isArray(spec.ports)) {
    spec.ports = spec.ports.map(port =>
      typeof port === 'object' && port !== null
        ? {
            protocol: 'TCP',
            targetPort: (port as { port?: unknown }).port,
            ...port,
          }
        : port,
    );
  }
  object.spec = spec;
}

function defaultDeployment(object: KubeObject): void {
  const spec = { ...(object.spec as Record<string, unknown> | undefined) };
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
  };
  object.spec = spec;
}

function validateDeploymentSelector(object: KubeObject): FieldCause[] {
  const spec = object.spec as
    | {
        selector?: { matchLabels?: Record<string, string> };
        template?: { metadata?: { labels?: Record<string, string> } };
      }
    | undefined;
  const selector = spec?.selector?.matchLabels ?? {};
  const labels = spec?.template?.metadata?.labels ?? {};
  const matches = Object.entries(selector).every(
    ([key, value]) => labels[key] === value,
  );
  if (matches) return [];
  return [
    {
      reason: 'FieldValueInvalid',
      field: 'spec.template.metadata.labels',
      message: `spec.template.metadata.labels: Invalid value: ${JSON.stringify(
        labels,
      )}: \`selector\` does not match template \`labels\``,
    },
  ];
}

function toResourceType(
  definition: KindDefinition,
  modelModule: ModelModule,
): ServedResourceType {
  const Model = modelModule[definition.kind] as ModelClass | undefined;
  if (!Model) {
    throw new Error(`${definition.module} has no model for ${definition.kind}`);
  }
  const { module: _module, nameRule, extraValidation, ...served } = definition;
  return {
    ...served,
    validate(object: KubeObject) {
      const causes = validateObjectMeta(object, nameRule);
      try {
        new Model(object).validate();
      } catch (error) {
        const schemaCauses = schemaErrorsToCauses(
          (error as { errors?: unknown }).errors,
          object,
        );
        if (schemaCauses.length === 0) {
          throw new FieldValidationError([
            {
              reason: 'FieldValueInvalid',
              field: '',
              message: (error as Error).message,
            },
          ]);
        }
        causes.push(...schemaCauses);
      }
      causes.push(...(extraValidation?.(object) ?? []));
      if (causes.length > 0) throw new FieldValidationError(causes);
    },
  };
}

const moduleCache = new Map<string, Promise<ModelModule>>();

/** Models are ESM-only: they are loaded lazily, once per process. */
function loadModelModule(specifier: string): Promise<ModelModule> {
  let loaded = moduleCache.get(specifier);
  if (!loaded) {
    loaded = importModelModule(specifier);
    moduleCache.set(specifier, loaded);
  }
  return loaded;
}

/**
 * Node loads these ESM-only packages with `import()`. Jest without --experimental-vm-modules
 * cannot run `import()`, but its module registry can `require` them (its resolver picks the
 * `import` condition and its transform compiles them to CommonJS), so it falls back to that.
 */
async function importModelModule(specifier: string): Promise<ModelModule> {
  try {
    return await import(specifier);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      code.startsWith('ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING')
    ) {
      return require(specifier);
    }
    throw error;
  }
}

/**
 * The served types of a simulated cluster: core kinds, RBAC, plus the Flux kinds (both source
 * versions share storage; the store converts between them by apiVersion).
 */
export async function loadResourceTypes(
  options: ResourceTypeOptions = {},
): Promise<ServedResourceType[]> {
  const sourceVersions = options.sourceVersions ?? ['v1', 'v1beta2'];
  const definitions = [
    ...CORE_KINDS,
    ...RBAC_KINDS,
    ...(options.flux === false
      ? []
      : [...sourceVersions.flatMap(sourceKinds), ...OTHER_FLUX_KINDS]),
  ];
  const types = await Promise.all(
    definitions.map(async d =>
      toResourceType(d, await loadModelModule(d.module)),
    ),
  );
  return options.include ? types.filter(options.include) : types;
}
