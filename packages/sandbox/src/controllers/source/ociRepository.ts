import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pullArtifact, resolveArtifact } from '../../oci/client';
import type { OciArtifactRef, OciCredentials } from '../../oci/client';
import { isLoopbackHost, unreachableHostMessage } from '../network';
import { SourceIgnoreMatcher } from '../sourceignore';
import type { StatusSession } from '../status';
import {
  ARTIFACT_IN_STORAGE,
  FETCH_FAILED,
  SourceError,
  readSecret,
  secretNotFound,
  type ProduceHelpers,
  type ProducedArtifact,
  type SourceKindHandler,
  type SourceStatus,
} from './sourceReconciler';

export const OCI_REPOSITORY_TYPE = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'OCIRepository',
} as const;

const OCI_PULL_FAILED = 'OCIArtifactPullFailed';
const ANNOTATION_SOURCE = 'org.opencontainers.image.source';
const ANNOTATION_REVISION = 'org.opencontainers.image.revision';

interface OciRepositorySpec {
  url?: string;
  ref?: OciArtifactRef;
  secretRef?: { name?: string };
  insecure?: boolean;
  ignore?: string;
  layerSelector?: { mediaType?: string };
}

interface DockerConfig {
  auths?: Record<
    string,
    { username?: string; password?: string; auth?: string }
  >;
}

function credentialError(message: string): SourceError {
  return new SourceError(
    FETCH_FAILED,
    'AuthenticationFailed',
    `failed to get credential: ${message}`,
  );
}

/** The registry credentials of a `kubernetes.io/dockerconfigjson` Secret, as Flux's keychain reads them. */
function credentialsFromDockerConfig(
  secret: Record<string, string>,
  registry: string,
  secretName: string,
): OciCredentials | undefined {
  const raw = secret['.dockerconfigjson'];
  if (raw === undefined) {
    throw credentialError(
      `secret '${secretName}' has no '.dockerconfigjson' key`,
    );
  }
  let config: DockerConfig;
  try {
    config = JSON.parse(raw) as DockerConfig;
  } catch (error) {
    throw credentialError(
      `failed to parse '.dockerconfigjson': ${(error as Error).message}`,
    );
  }
  const entry = Object.entries(config.auths ?? {}).find(([server]) => {
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    return host === registry;
  })?.[1];
  if (!entry) return undefined;
  if (entry.username !== undefined || entry.password !== undefined) {
    return { username: entry.username ?? '', password: entry.password ?? '' };
  }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return {
      username: decoded.slice(0, colon),
      password: decoded.slice(colon + 1),
    };
  }
  return undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** source-controller's OCIRepository reconciler (pull, extract, archive; no verification). */
export function ociRepositoryHandler(): SourceKindHandler {
  return {
    type: OCI_REPOSITORY_TYPE,

    async produce(
      session: StatusSession<SourceStatus>,
      { env, markNewRevision }: ProduceHelpers,
    ): Promise<ProducedArtifact> {
      const spec = session.spec as OciRepositorySpec;
      const url = spec.url ?? '';
      const namespace = session.namespace ?? 'default';
      const match = /^oci:\/\/([^/]+)\/.+$/.exec(url);
      if (!match) {
        throw new SourceError(
          FETCH_FAILED,
          'URLInvalid',
          `failed to determine the artifact tag for '${url}': URL must be in format 'oci://<domain>/<org>/<repo>'`,
          'stalling',
        );
      }
      const registry = match[1];

      let credentials: OciCredentials | undefined;
      if (spec.secretRef?.name) {
        const secret = readSecret(env.store, namespace, spec.secretRef.name);
        if (!secret)
          throw credentialError(secretNotFound(namespace, spec.secretRef.name));
        credentials = credentialsFromDockerConfig(
          secret,
          registry,
          spec.secretRef.name,
        );
      }

      const injected = env.faults.sourceFetchFailure(
        'OCIRepository',
        namespace,
        session.name,
      );
      if (injected !== undefined) {
        throw new SourceError(
          FETCH_FAILED,
          OCI_PULL_FAILED,
          `failed to pull artifact from '${url}': ${injected}`,
        );
      }
      const hostname = registry.replace(/:\d+$/, '');
      if (!isLoopbackHost(hostname)) {
        throw new SourceError(
          FETCH_FAILED,
          OCI_PULL_FAILED,
          `failed to determine artifact digest: ${unreachableHostMessage(
            `https://${registry}/v2/`,
            hostname,
          )}`,
        );
      }

      const connection = {
        url,
        credentials,
        insecure: spec.insecure,
        ref: spec.ref ?? { tag: 'latest' },
      };
      let revision: string;
      try {
        ({ revision } = await resolveArtifact(connection));
      } catch (error) {
        throw new SourceError(
          FETCH_FAILED,
          OCI_PULL_FAILED,
          `failed to determine artifact digest: ${describeError(error)}`,
        );
      }

      const storedMessage = `stored artifact for digest '${revision}'`;
      const current = session.status.artifact;
      const contentUnchanged =
        (spec.ignore ?? undefined) ===
        (session.status.observedIgnore ?? undefined);
      if (
        current?.revision === revision &&
        contentUnchanged &&
        session.conditions.isTrue(ARTIFACT_IN_STORAGE)
      ) {
        return {
          artifact: current,
          storedMessage,
          event: newArtifactEvent(revision, url, current.metadata),
        };
      }
      if (current?.revision !== revision) {
        await markNewRevision(`new revision '${revision}' for '${url}'`);
      }

      await mkdir(join(env.workDir, 'tmp'), { recursive: true });
      const destination = await mkdtemp(
        join(env.workDir, 'tmp', 'ocirepository-'),
      );
      try {
        let pulled;
        try {
          pulled = await pullArtifact({
            ...connection,
            destination,
            layerMediaType: spec.layerSelector?.mediaType,
          });
        } catch (error) {
          throw new SourceError(
            FETCH_FAILED,
            OCI_PULL_FAILED,
            `failed to pull artifact from '${url}': ${describeError(error)}`,
          );
        }
        const artifact = await env.storage.archiveDirectory(
          destination,
          {
            kind: 'OCIRepository',
            namespace,
            name: session.name,
            fileName: `${pulled.digest.replace(/^sha256:/, '')}.tar.gz`,
          },
          pulled.revision,
          {
            ignore: SourceIgnoreMatcher.withDefaults(spec.ignore),
            metadata: pulled.metadata,
          },
        );
        return {
          artifact,
          storedMessage: `stored artifact for digest '${pulled.revision}'`,
          event: newArtifactEvent(pulled.revision, url, pulled.metadata),
          observed: { observedIgnore: spec.ignore },
        };
      } finally {
        await rm(destination, { recursive: true, force: true });
      }
    },
  };
}

function newArtifactEvent(
  revision: string,
  url: string,
  metadata: Record<string, string> | undefined,
): { reason: string; message: string } {
  let message = `stored artifact with revision '${revision}' from '${url}'`;
  const source = metadata?.[ANNOTATION_SOURCE];
  const origin = metadata?.[ANNOTATION_REVISION];
  if (source && origin) {
    message += `, origin source '${source}', origin revision '${origin}'`;
  }
  return { reason: 'NewArtifact', message };
}
