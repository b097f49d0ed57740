import {
  cp,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseSemVer } from '../../oci/semver';
import type { KubeObject } from '../../kube/types';
import type { StatusSession } from '../status';
import { HELM_REPOSITORY_TYPE, isOciHelmRepository } from './helmRepository';
import {
  BUILD_FAILED,
  FETCH_FAILED,
  SourceError,
  type ProduceHelpers,
  type ProducedArtifact,
  type SourceEnvironment,
  type SourceKindHandler,
  type SourceStatus,
} from './sourceReconciler';

export const HELM_CHART_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'HelmChart',
} as const;

const SOURCE_PLURALS: Record<string, string> = {
  GitRepository: 'gitrepositories',
  HelmRepository: 'helmrepositories',
  Bucket: 'buckets',
};

interface HelmChartSpec {
  chart?: string;
  version?: string;
  sourceRef?: { kind?: string; name?: string };
  reconcileStrategy?: 'ChartVersion' | 'Revision';
}

type HelmChartStatus = SourceStatus & {
  observedSourceArtifactRevision?: string;
  observedChartName?: string;
};

export interface ChartMetadata {
  apiVersion?: string;
  name?: string;
  version?: string;
  appVersion?: string;
  [key: string]: unknown;
}

/**
 * A concrete version for a chart "pulled" from a HelmRepository: the sandbox has no chart
 * index, so an exact version is taken as is and a range resolves to the lowest version
 * it names (`6.x` → `6.0.0`, `*` → `0.0.0`).
 */
export function concreteChartVersion(requested: string | undefined): string {
  const text = (requested ?? '*').trim() || '*';
  const exact = parseSemVer(text);
  if (exact && !/[xX*]/.test(text)) return text.replace(/^v/, '');
  const first = /(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?/.exec(text);
  if (!first) return '0.0.0';
  const part = (value: string | undefined) =>
    value && /^\d+$/.test(value) ? value : '0';
  return `${first[1]}.${part(first[2])}.${part(first[3])}`;
}

function sourceUnavailable(
  kind: string,
  name: string,
  requeueMs: number,
): SourceError {
  const plural = SOURCE_PLURALS[kind] ?? `${kind.toLowerCase()}s`;
  return new SourceError(
    FETCH_FAILED,
    'SourceUnavailable',
    `failed to get source: ${plural}.source.toolkit.fluxcd.io "${name}" not found`,
    'waiting',
    requeueMs,
  );
}

function noSourceArtifact(
  kind: string,
  name: string,
  requeueMs: number,
): SourceError {
  return new SourceError(
    FETCH_FAILED,
    'NoSourceArtifact',
    `no artifact available for ${kind} source '${name}'`,
    'waiting',
    requeueMs,
  );
}

async function readChartMetadata(chartDir: string): Promise<ChartMetadata> {
  let text: string;
  try {
    text = await readFile(join(chartDir, 'Chart.yaml'), 'utf8');
  } catch {
    throw new SourceError(
      BUILD_FAILED,
      'ChartPackageError',
      'chart package error: Chart.yaml file is missing',
    );
  }
  let metadata: ChartMetadata;
  try {
    metadata = (parse(text) ?? {}) as ChartMetadata;
  } catch (error) {
    throw new SourceError(
      BUILD_FAILED,
      'ChartPackageError',
      `chart package error: cannot load Chart.yaml: ${
        (error as Error).message
      }`,
    );
  }
  if (!metadata.name) {
    throw new SourceError(
      BUILD_FAILED,
      'ChartPackageError',
      'chart package error: validation: chart.metadata.name is required',
    );
  }
  if (!metadata.version || !parseSemVer(String(metadata.version))) {
    throw new SourceError(
      BUILD_FAILED,
      'ChartPackageError',
      `chart package error: validation: chart.metadata.version "${
        metadata.version ?? ''
      }" is invalid`,
    );
  }
  return metadata;
}

/** The commit (or digest) part of a source revision, shortened as Flux's Revision strategy does. */
function shortRevision(revision: string): string {
  const digest = revision.slice(revision.lastIndexOf('@') + 1);
  return digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);
}

async function temporaryDir(
  env: SourceEnvironment,
  prefix: string,
): Promise<string> {
  await mkdir(join(env.workDir, 'tmp'), { recursive: true });
  return mkdtemp(join(env.workDir, 'tmp', prefix));
}

/** source-controller's HelmChart reconciler, building charts from Git/Bucket sources or "pulling" them. */
export function helmChartHandler(): SourceKindHandler {
  return {
    type: HELM_CHART_TYPE,

    async produce(
      session: StatusSession<SourceStatus>,
      helpers: ProduceHelpers,
    ): Promise<ProducedArtifact> {
      const { env } = helpers;
      const spec = session.spec as HelmChartSpec;
      const namespace = session.namespace ?? 'default';
      const sourceKind = spec.sourceRef?.kind ?? '';
      const sourceName = spec.sourceRef?.name ?? '';
      if (!SOURCE_PLURALS[sourceKind]) {
        throw new SourceError(
          FETCH_FAILED,
          'SourceUnavailable',
          `unsupported source kind '${sourceKind}'`,
          'stalling',
        );
      }
      const source = env.store.get(
        { apiVersion: HELM_REPOSITORY_TYPE.apiVersion, kind: sourceKind },
        namespace,
        sourceName,
      );
      if (!source)
        throw sourceUnavailable(
          sourceKind,
          sourceName,
          env.requeueDependencyMs,
        );
      if (sourceKind === 'HelmRepository') {
        return pullFromRepository(
          session as StatusSession<HelmChartStatus>,
          helpers,
          spec,
          source,
        );
      }
      return packageFromSource(
        session as StatusSession<HelmChartStatus>,
        helpers,
        spec,
        source,
      );
    },
  };
}

async function pullFromRepository(
  session: StatusSession<HelmChartStatus>,
  { env, markNewRevision }: ProduceHelpers,
  spec: HelmChartSpec,
  repository: KubeObject,
): Promise<ProducedArtifact> {
  const namespace = session.namespace ?? 'default';
  const repositoryName = repository.metadata.name;
  if (
    !isOciHelmRepository(repository) &&
    !(repository.status as SourceStatus | undefined)?.artifact
  ) {
    throw noSourceArtifact(
      'HelmRepository',
      repositoryName,
      env.requeueDependencyMs,
    );
  }
  const chartName = spec.chart ?? '';
  const injected = env.faults.sourceFetchFailure(
    'HelmRepository',
    namespace,
    repositoryName,
  );
  if (injected !== undefined) {
    throw new SourceError(
      BUILD_FAILED,
      'ChartPullError',
      `chart pull error: failed to download chart for remote reference: ${injected}`,
    );
  }
  const version = concreteChartVersion(spec.version);
  const summary = `pulled '${chartName}' chart with version '${version}'`;
  const event = { reason: 'ChartPullSucceeded', message: summary };
  const current = session.status.artifact;
  if (
    current?.revision === version &&
    session.status.observedChartName === chartName
  ) {
    return { artifact: current, storedMessage: summary, event };
  }
  await markNewRevision(
    `pulling '${chartName}' chart with version '${version}'`,
  );
  const workDir = await temporaryDir(env, 'helmchart-');
  try {
    const chartDir = join(workDir, chartName);
    await mkdir(join(chartDir, 'templates'), { recursive: true });
    await writeFile(
      join(chartDir, 'Chart.yaml'),
      stringify({
        apiVersion: 'v2',
        name: chartName,
        version,
        type: 'application',
      }),
    );
    await writeFile(join(chartDir, 'values.yaml'), '');
    const artifact = await env.storage.archiveDirectory(
      workDir,
      {
        kind: 'HelmChart',
        namespace,
        name: session.name,
        fileName: `${chartName}-${version}.tgz`,
      },
      version,
    );
    return {
      artifact,
      storedMessage: summary,
      event,
      observed: { observedChartName: chartName },
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function packageFromSource(
  session: StatusSession<HelmChartStatus>,
  { env, markNewRevision }: ProduceHelpers,
  spec: HelmChartSpec,
  source: KubeObject,
): Promise<ProducedArtifact> {
  const namespace = session.namespace ?? 'default';
  const sourceArtifact = (source.status as SourceStatus | undefined)?.artifact;
  if (!sourceArtifact) {
    throw noSourceArtifact(
      source.kind,
      source.metadata.name,
      env.requeueDependencyMs,
    );
  }
  const workDir = await temporaryDir(env, 'helmchart-');
  try {
    const sourceDir = join(workDir, 'source');
    await env.storage.extract(sourceArtifact, sourceDir);
    const chartPath = spec.chart ?? '';
    const chartDir = resolve(sourceDir, chartPath);
    const exists = await stat(chartDir).then(
      s => s.isDirectory(),
      () => false,
    );
    if (!(chartDir + sep).startsWith(sourceDir + sep) || !exists) {
      throw new SourceError(
        BUILD_FAILED,
        'InvalidChartReference',
        `invalid chart reference: path '${chartPath}' does not exist`,
        'stalling',
      );
    }
    const metadata = await readChartMetadata(chartDir);
    const chartName = String(metadata.name);
    let version = String(metadata.version);
    if (spec.reconcileStrategy === 'Revision') {
      version = `${version}+${shortRevision(sourceArtifact.revision)}`;
    }
    const summary = `packaged '${chartName}' chart with version '${version}'`;
    const event = { reason: 'ChartPackageSucceeded', message: summary };
    const current = session.status.artifact;
    if (
      current?.revision === version &&
      session.status.observedSourceArtifactRevision ===
        sourceArtifact.revision &&
      session.status.observedChartName === chartName
    ) {
      return { artifact: current, storedMessage: summary, event };
    }
    await markNewRevision(
      `packaging '${chartName}' chart with version '${version}'`,
    );
    const packageDir = join(workDir, 'package');
    await cp(chartDir, join(packageDir, chartName), { recursive: true });
    if (version !== metadata.version) {
      await writeFile(
        join(packageDir, chartName, 'Chart.yaml'),
        stringify({ ...metadata, version }),
      );
    }
    const artifact = await env.storage.archiveDirectory(
      packageDir,
      {
        kind: 'HelmChart',
        namespace,
        name: session.name,
        fileName: `${chartName}-${version}.tgz`,
      },
      version,
    );
    return {
      artifact,
      storedMessage: summary,
      event,
      observed: {
        observedSourceArtifactRevision: sourceArtifact.revision,
        observedChartName: chartName,
      },
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
