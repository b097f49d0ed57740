import type {
  FluxKind,
  FluxObjectRef,
} from '@backstage-gitops/plugin-gitops-common';

export type { FluxKind, FluxObjectRef };

/** The parts of a Flux object the actions read. */
export interface FluxObject {
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown> & { suspend?: boolean };
  status?: {
    observedGeneration?: number;
    lastHandledReconcileAt?: string;
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    artifact?: { revision?: string };
    conditions?: Array<{
      type: string;
      status: string;
      reason?: string;
      message?: string;
    }>;
  };
}

/**
 * What the actions need to know about a kind, after the flux CLI's `reconcilable`:
 * every kind is a declaration, the behaviour lives once in `FluxActions`.
 */
export interface Reconcilable {
  /** The API group the kind is served from (its version is discovered per cluster). */
  group: string;
  /** The resource name in API paths. */
  plural: string;
  /** The object this one takes its artifact from, reconciled first with `withSource`. */
  sourceOf(object: FluxObject): FluxObjectRef | undefined;
  /** Whether `reconcile.fluxcd.io/forceAt` and `resetAt` mean something to its controller. */
  forceAndReset: boolean;
}

const SOURCE_GROUP = 'source.toolkit.fluxcd.io';

type SourceRef = { kind?: string; name?: string; namespace?: string };

function refFrom(
  ref: SourceRef | undefined,
  defaultNamespace: string,
): FluxObjectRef | undefined {
  if (!ref?.kind || !ref.name || !isFluxKind(ref.kind)) return undefined;
  return {
    kind: ref.kind,
    namespace: ref.namespace || defaultNamespace,
    name: ref.name,
  };
}

const noSource = () => undefined;

/** `spec.sourceRef`, in the object's namespace unless it names another. */
const specSourceRef = (object: FluxObject) =>
  refFrom(object.spec?.sourceRef as SourceRef, object.metadata.namespace);

/**
 * A HelmRelease's chart: `spec.chartRef` (OCIRepository or HelmChart), or else the
 * HelmChart `<ns>-<name>` the helm-controller creates in the chart source's namespace.
 */
function helmReleaseSource(object: FluxObject): FluxObjectRef | undefined {
  const { namespace, name } = object.metadata;
  const chartRef = refFrom(object.spec?.chartRef as SourceRef, namespace);
  if (chartRef) return chartRef;
  const chart = object.spec?.chart as
    | { spec?: { sourceRef?: SourceRef } }
    | undefined;
  if (!chart?.spec?.sourceRef) return undefined;
  return {
    kind: 'HelmChart',
    namespace: chart.spec.sourceRef.namespace || namespace,
    name: `${namespace}-${name}`,
  };
}

/** Every kind the actions support. */
export const fluxKinds: Record<FluxKind, Reconcilable> = {
  GitRepository: {
    group: SOURCE_GROUP,
    plural: 'gitrepositories',
    sourceOf: noSource,
    forceAndReset: false,
  },
  OCIRepository: {
    group: SOURCE_GROUP,
    plural: 'ocirepositories',
    sourceOf: noSource,
    forceAndReset: false,
  },
  Bucket: {
    group: SOURCE_GROUP,
    plural: 'buckets',
    sourceOf: noSource,
    forceAndReset: false,
  },
  HelmRepository: {
    group: SOURCE_GROUP,
    plural: 'helmrepositories',
    sourceOf: noSource,
    forceAndReset: false,
  },
  HelmChart: {
    group: SOURCE_GROUP,
    plural: 'helmcharts',
    sourceOf: specSourceRef,
    forceAndReset: false,
  },
  Kustomization: {
    group: 'kustomize.toolkit.fluxcd.io',
    plural: 'kustomizations',
    sourceOf: specSourceRef,
    forceAndReset: false,
  },
  HelmRelease: {
    group: 'helm.toolkit.fluxcd.io',
    plural: 'helmreleases',
    sourceOf: helmReleaseSource,
    forceAndReset: true,
  },
  Receiver: {
    group: 'notification.toolkit.fluxcd.io',
    plural: 'receivers',
    // A Receiver triggers many resources; it consumes no artifact.
    sourceOf: noSource,
    forceAndReset: false,
  },
};

/** Whether `kind` is one the actions support. */
export function isFluxKind(kind: string): kind is FluxKind {
  return Object.prototype.hasOwnProperty.call(fluxKinds, kind);
}

/** `Kind/namespace/name`, for messages and logs. */
export function describeRef(ref: FluxObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}
