/** The fields of kustomization.yaml this builder understands (kustomize.config.k8s.io/v1beta1). */

export interface TargetSelector {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

export interface PatchEntry {
  path?: string;
  patch?: string;
  target?: TargetSelector;
  options?: { allowNameChange?: boolean; allowKindChange?: boolean };
}

export interface Json6902PatchEntry {
  target: TargetSelector;
  path?: string;
  patch?: string;
}

export interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export interface ReplicaEntry {
  name: string;
  count: number;
}

export interface LabelEntry {
  pairs?: Record<string, unknown>;
  includeSelectors?: boolean;
  includeTemplates?: boolean;
}

export interface GeneratorOptions {
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  disableNameSuffixHash?: boolean;
  immutable?: boolean;
}

export interface GeneratorArgs {
  name: string;
  namespace?: string;
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  files?: string[];
  envs?: string[];
  /** Deprecated single env file. */
  env?: string;
  options?: GeneratorOptions;
}

export interface SecretGeneratorArgs extends GeneratorArgs {
  type?: string;
}

export interface Kustomization {
  apiVersion?: string;
  kind?: 'Kustomization' | 'Component';
  metadata?: Record<string, unknown>;
  resources?: string[];
  /** Deprecated alias of resources. */
  bases?: string[];
  components?: string[];
  namespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  commonLabels?: Record<string, unknown>;
  labels?: LabelEntry[];
  commonAnnotations?: Record<string, unknown>;
  patches?: PatchEntry[];
  patchesStrategicMerge?: string[];
  patchesJson6902?: Json6902PatchEntry[];
  images?: ImageEntry[];
  replicas?: ReplicaEntry[];
  configMapGenerator?: GeneratorArgs[];
  secretGenerator?: SecretGeneratorArgs[];
  generatorOptions?: GeneratorOptions;
  /** Accepted and ignored: it only controls origin annotations, which this builder does not write. */
  buildMetadata?: string[];
}

/** Fields of real kustomizations this builder deliberately does not implement. */
export const UNSUPPORTED_FIELDS = [
  'replacements',
  'vars',
  'helmCharts',
  'helmChartInflationGenerator',
  'helmGlobals',
  'generators',
  'transformers',
  'validators',
  'configurations',
  'crds',
  'openapi',
  'sortOptions',
  'imageTags',
];

export const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'resources',
  'bases',
  'components',
  'namespace',
  'namePrefix',
  'nameSuffix',
  'commonLabels',
  'labels',
  'commonAnnotations',
  'patches',
  'patchesStrategicMerge',
  'patchesJson6902',
  'images',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
  'buildMetadata',
]);
