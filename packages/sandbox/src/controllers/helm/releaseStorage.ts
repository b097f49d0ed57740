import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ClusterStore } from '../../kube/types';
import { StoreError } from '../../kube/types';
import type { LoadedChart } from './chart';

const SECRET_TYPE = { apiVersion: 'v1', kind: 'Secret' } as const;

export type ReleaseStatus =
  | 'deployed'
  | 'superseded'
  | 'failed'
  | 'uninstalled';

export interface HelmReleaseRecord {
  name: string;
  namespace: string;
  version: number;
  status: ReleaseStatus;
  description: string;
  firstDeployed: string;
  lastDeployed: string;
  chart: LoadedChart;
  /** The user-supplied values (Helm's `config`). */
  config: Record<string, unknown>;
  manifest: string;
}

/** The JSON Helm stores for a release (helm.sh/helm/v3/pkg/release.Release). */
function releaseJson(record: HelmReleaseRecord): string {
  return JSON.stringify({
    name: record.name,
    info: {
      first_deployed: record.firstDeployed,
      last_deployed: record.lastDeployed,
      deleted: '',
      description: record.description,
      status: record.status,
    },
    chart: {
      metadata: record.chart.metadata,
      lock: null,
      templates: record.chart.templates.map(t => ({
        name: t.name,
        data: Buffer.from(t.data).toString('base64'),
      })),
      values: record.chart.values,
      schema: null,
      files: [],
    },
    config: record.config,
    manifest: record.manifest,
    version: record.version,
    namespace: record.namespace,
  });
}

/** The digest helm-controller records in its snapshots for a release. */
export function releaseDigest(record: HelmReleaseRecord): string {
  return `sha256:${createHash('sha256')
    .update(releaseJson(record))
    .digest('hex')}`;
}

export function releaseSecretName(name: string, version: number): string {
  return `sh.helm.release.v1.${name}.v${version}`;
}

/**
 * Writes a release the way Helm's Secret storage driver does: a `helm.sh/release.v1`
 * Secret whose `release` key holds the base64 of the gzipped release JSON.
 */
export function storeRelease(
  store: ClusterStore,
  storageNamespace: string,
  record: HelmReleaseRecord,
): void {
  const payload = gzipSync(Buffer.from(releaseJson(record))).toString('base64');
  const secret = {
    ...SECRET_TYPE,
    metadata: {
      name: releaseSecretName(record.name, record.version),
      namespace: storageNamespace,
      labels: {
        name: record.name,
        owner: 'helm',
        status: record.status,
        version: String(record.version),
        modifiedAt: String(Math.floor(Date.now() / 1000)),
      },
    },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(payload).toString('base64') },
  };
  store.apply(secret, { fieldManager: 'helm-controller', force: true });
}

/** Marks an earlier release revision (e.g. as superseded after an upgrade). */
export function markRelease(
  store: ClusterStore,
  storageNamespace: string,
  name: string,
  version: number,
  status: ReleaseStatus,
): void {
  try {
    store.mergePatch(
      SECRET_TYPE,
      storageNamespace,
      releaseSecretName(name, version),
      {
        metadata: {
          labels: { status, modifiedAt: String(Math.floor(Date.now() / 1000)) },
        },
      },
    );
  } catch (error) {
    if (!(error instanceof StoreError && error.code === 404)) throw error;
  }
}

/** Deletes every stored revision of a release (helm uninstall without --keep-history). */
export function deleteReleases(
  store: ClusterStore,
  storageNamespace: string,
  name: string,
): void {
  const { items } = store.list(SECRET_TYPE, {
    namespace: storageNamespace,
    labelSelector: `owner=helm,name=${name}`,
  });
  for (const secret of items) {
    try {
      store.delete(SECRET_TYPE, storageNamespace, secret.metadata.name);
    } catch (error) {
      if (!(error instanceof StoreError && error.code === 404)) throw error;
    }
  }
}
