import type { ClusterStore, KubeObject, TypeRef } from '../../kube/types';
import { StoreError } from '../../kube/types';
import type { Artifact } from '../artifacts';
import { READY } from '../conditions';
import { HELM_CHART_TYPE } from '../source/helmChart';
import type { FluxStatus } from '../status';
import {
  AccessDenied,
  HELM_CONTROLLER,
  HELM_GROUP,
  StepFailure,
  crossNamespaceRefError,
  helmEvent,
  specOf,
  type HelmEnvironment,
  type HelmReleaseStatus,
} from './types';

export function chartTemplateName(object: KubeObject): {
  namespace: string;
  name: string;
} {
  const spec = specOf(object);
  const namespace = object.metadata.namespace ?? 'default';
  return {
    namespace: spec.chart?.spec?.sourceRef?.namespace || namespace,
    name: `${namespace}-${object.metadata.name}`,
  };
}

/**
 * The HelmChart template may not be reconciled: helm-controller returns the error to the
 * runtime (retried with backoff) and leaves the conditions as they are.
 */
export class ChartTemplateError extends Error {}

/** Creates (or updates) the HelmChart `<ns>-<name>` from `spec.chart`, and drops a stale one. */
export function reconcileChartTemplate(
  env: HelmEnvironment,
  object: KubeObject,
  status: HelmReleaseStatus,
): void {
  const spec = specOf(object);
  const chartSpec = spec.chart?.spec;
  const previous = status.helmChart;
  if (!chartSpec) {
    if (previous) deleteHelmChart(env.store, previous);
    delete status.helmChart;
    return;
  }
  const { namespace, name } = chartTemplateName(object);
  const denied = crossNamespaceRefError(
    env,
    object,
    'HelmChart',
    namespace,
    name,
  );
  if (denied) throw new ChartTemplateError(denied);
  const existed = env.store.get(HELM_CHART_TYPE, namespace, name) !== undefined;
  env.store.apply(
    {
      ...HELM_CHART_TYPE,
      metadata: {
        name,
        namespace,
        labels: {
          [`${HELM_GROUP}/name`]: object.metadata.name,
          [`${HELM_GROUP}/namespace`]: object.metadata.namespace ?? 'default',
        },
      },
      spec: {
        chart: chartSpec.chart,
        version: chartSpec.version || '*',
        sourceRef: {
          kind: chartSpec.sourceRef?.kind,
          name: chartSpec.sourceRef?.name,
        },
        interval: chartSpec.interval || spec.interval,
        reconcileStrategy: chartSpec.reconcileStrategy || 'ChartVersion',
        ...(chartSpec.valuesFiles
          ? { valuesFiles: chartSpec.valuesFiles }
          : {}),
      },
    },
    { fieldManager: HELM_CONTROLLER, force: true },
  );
  const reference = `${namespace}/${name}`;
  if (previous && previous !== reference) deleteHelmChart(env.store, previous);
  status.helmChart = reference;
  if (!existed) {
    helmEvent(
      env,
      object,
      'Normal',
      'HelmChartCreated',
      `Created HelmChart/${reference} with SourceRef '${
        chartSpec.sourceRef?.kind
      }/${chartSpec.sourceRef?.namespace || object.metadata.namespace}/${
        chartSpec.sourceRef?.name
      }'`,
    );
  }
}

export function deleteHelmChart(store: ClusterStore, reference: string): void {
  const [namespace, name] = reference.split('/');
  try {
    store.delete(HELM_CHART_TYPE, namespace, name);
  } catch (error) {
    if (!(error instanceof StoreError && error.code === 404)) throw error;
  }
}

function artifactOf(object: KubeObject): Artifact | undefined {
  return (object.status as { artifact?: Artifact } | undefined)?.artifact;
}

export function isReadyAndObserved(object: KubeObject): boolean {
  const status = (object.status ?? {}) as FluxStatus;
  return (
    object.metadata.generation === status.observedGeneration &&
    (status.conditions ?? []).some(c => c.type === READY && c.status === 'True')
  );
}

export function resolveChartArtifact(
  env: HelmEnvironment,
  object: KubeObject,
  status: HelmReleaseStatus,
  intervalMs: number,
): Artifact {
  const spec = specOf(object);
  let type: TypeRef;
  let namespace: string;
  let name: string;
  if (spec.chartRef) {
    type = {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: spec.chartRef.kind ?? '',
    };
    namespace =
      spec.chartRef.namespace || object.metadata.namespace || 'default';
    name = spec.chartRef.name ?? '';
    if (type.kind !== 'OCIRepository' && type.kind !== 'HelmChart') {
      throw new StepFailure(
        'InvalidChartReference',
        `unsupported chartRef kind '${type.kind}'`,
        {},
      );
    }
  } else {
    type = HELM_CHART_TYPE;
    [namespace, name] = (status.helmChart ?? '/').split('/');
  }
  const denied = crossNamespaceRefError(
    env,
    object,
    type.kind,
    namespace,
    name,
  );
  if (denied) throw new AccessDenied(denied);
  const source = env.store.get(type, namespace, name);
  if (!source) {
    const plural = type.kind === 'HelmChart' ? 'helmcharts' : 'ocirepositories';
    throw new StepFailure(
      'ArtifactFailed',
      `could not get ${
        type.kind === 'HelmChart' && !spec.chartRef ? 'HelmChart' : 'Source'
      } object: ${plural}.source.toolkit.fluxcd.io "${name}" not found`,
      { retryWithBackoff: true },
    );
  }
  const artifact = artifactOf(source);
  if (!isReadyAndObserved(source) || !artifact) {
    throw new StepFailure(
      type.kind === 'HelmChart' ? 'HelmChartNotReady' : 'SourceNotReady',
      `${type.kind} '${namespace}/${name}' is not ready`,
      { requeueAfterMs: intervalMs },
    );
  }
  return artifact;
}
