import { createHash } from 'node:crypto';
import { OciError } from './errors';
import { createDeterministicTarGz, extractTarGz } from './archive';
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
  DOCKER_MANIFEST_LIST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  type OciDescriptor,
  type OciManifest,
} from './mediaTypes';
import { parseOciUrl, type OciRepositoryRef } from './reference';
import { registryFetch, type OciCredentials } from './registryHttp';
import { selectHighestTag } from './semver';

export type { OciCredentials } from './registryHttp';

/** Which artifact to pull, as in OCIRepository `spec.ref`: digest wins over semver, semver over tag. */
export interface OciArtifactRef {
  tag?: string;
  semver?: string;
  digest?: string;
}

export interface OciConnection {
  /** `oci://<host>/<repository>`. */
  url: string;
  credentials?: OciCredentials;
  /** Use plain HTTP for a host that would otherwise get HTTPS (OCIRepository `spec.insecure`). */
  insecure?: boolean;
}

export interface PushArtifactOptions extends OciConnection {
  tag: string;
  sourceDir: string;
  /** `org.opencontainers.image.source`, e.g. the Git repository URL. */
  source: string;
  /** `org.opencontainers.image.revision`, e.g. `main@sha1:<sha>`. */
  revision: string;
  /** `org.opencontainers.image.created`; defaults to now. */
  created?: Date | string;
  /** Names or relative paths left out of the tarball (like `flux push artifact --ignore-paths`). */
  ignorePaths?: string[];
}

export interface PushArtifactResult {
  /** The manifest digest, `sha256:<hex>`. */
  digest: string;
  /** `<host>/<repository>:<tag>@<digest>`, as `flux push artifact` prints it. */
  reference: string;
}

export interface ResolvedArtifact {
  digest: string;
  /** The tag the reference resolved to (absent when pulled by digest). */
  tag?: string;
  /** As OCIRepository reports it: `<tag>@sha256:<hex>`, or `sha256:<hex>` by digest. */
  revision: string;
}

export interface PullArtifactOptions extends OciConnection {
  ref?: OciArtifactRef;
  destination: string;
  /** OCIRepository `spec.layerSelector.mediaType`; the first layer when absent. */
  layerMediaType?: string;
}

export interface PulledArtifact extends ResolvedArtifact {
  /** The manifest annotations (Flux's `status.artifact.metadata`). */
  metadata: Record<string, string>;
  /** The digest of the extracted layer. */
  layerDigest: string;
}

const MANIFEST_ACCEPT = [
  OCI_MANIFEST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  DOCKER_MANIFEST_LIST_MEDIA_TYPE,
].join(', ');

const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

function sha256Digest(content: Uint8Array): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

function formatCreated(created: Date | string | undefined): string {
  if (typeof created === 'string') return created;
  // Go's time.RFC3339 has whole seconds.
  return (created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Pushes a directory as a Flux artifact, the way `flux push artifact` does. */
export async function pushArtifact(
  options: PushArtifactOptions,
): Promise<PushArtifactResult> {
  const ref = parseOciUrl(options.url, options.insecure);
  if (!TAG.test(options.tag)) {
    throw new OciError(
      `invalid tag '${options.tag}'`,
      undefined,
      'TAG_INVALID',
    );
  }
  const layer = await createDeterministicTarGz(
    options.sourceDir,
    options.ignorePaths,
  );
  const config = Buffer.from('{}');
  const configDescriptor = await uploadBlob(
    ref,
    options.credentials,
    config,
    FLUX_CONFIG_MEDIA_TYPE,
  );
  const layerDescriptor = await uploadBlob(
    ref,
    options.credentials,
    layer,
    FLUX_CONTENT_MEDIA_TYPE,
  );
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: configDescriptor,
    layers: [layerDescriptor],
    annotations: {
      [ANNOTATION_CREATED]: formatCreated(options.created),
      [ANNOTATION_REVISION]: options.revision,
      [ANNOTATION_SOURCE]: options.source,
    },
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const digest = sha256Digest(body);
  await registryFetch(ref, options.credentials, {
    method: 'PUT',
    target: `manifests/${options.tag}`,
    headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE },
    body,
    notFound: `repository '${ref.repository}' not found`,
  });
  return {
    digest,
    reference: `${ref.registry}/${ref.repository}:${options.tag}@${digest}`,
  };
}

async function uploadBlob(
  ref: OciRepositoryRef,
  credentials: OciCredentials | undefined,
  content: Buffer,
  mediaType: string,
): Promise<OciDescriptor> {
  const digest = sha256Digest(content);
  const descriptor = { mediaType, size: content.length, digest };
  const existing = await registryFetch(ref, credentials, {
    method: 'HEAD',
    target: `blobs/${digest}`,
    accept: [404],
    notFound: `blob ${digest} not found`,
  });
  if (existing.ok) return descriptor;
  const started = await registryFetch(ref, credentials, {
    method: 'POST',
    target: 'blobs/uploads/',
    notFound: `repository '${ref.repository}' not found`,
  });
  const location = started.headers.get('location');
  if (!location) {
    throw new OciError(
      `the registry started an upload without a Location header`,
    );
  }
  const uploadUrl = new URL(
    location,
    `${ref.baseUrl}/v2/${ref.repository}/blobs/uploads/`,
  );
  uploadUrl.searchParams.set('digest', digest);
  await registryFetch(ref, credentials, {
    method: 'PUT',
    target: uploadUrl.toString(),
    headers: { 'content-type': 'application/octet-stream' },
    body: content,
    notFound: `upload of blob ${digest} not found`,
  });
  return descriptor;
}

/** All tags of the repository, following the registry's pagination. */
export async function listTags(
  url: string,
  credentials?: OciCredentials,
  insecure?: boolean,
): Promise<string[]> {
  return listTagsOf(parseOciUrl(url, insecure), credentials);
}

async function listTagsOf(
  ref: OciRepositoryRef,
  credentials: OciCredentials | undefined,
): Promise<string[]> {
  const tags: string[] = [];
  let target = 'tags/list';
  for (;;) {
    const response = await registryFetch(ref, credentials, {
      target,
      notFound: `repository '${ref.repository}' not found in ${ref.registry}`,
    });
    const page = (await response.json()) as { tags?: string[] | null };
    tags.push(...(page.tags ?? []));
    const next = /<([^>]+)>;\s*rel="next"/.exec(
      response.headers.get('link') ?? '',
    );
    if (!next) return tags;
    target = new URL(next[1], ref.baseUrl).toString();
  }
}

async function resolveReference(
  ref: OciRepositoryRef,
  artifactRef: OciArtifactRef | undefined,
  credentials: OciCredentials | undefined,
): Promise<{ reference: string; tag?: string }> {
  if (artifactRef?.digest) {
    if (!DIGEST.test(artifactRef.digest)) {
      throw new OciError(
        `invalid digest '${artifactRef.digest}'`,
        undefined,
        'DIGEST_INVALID',
      );
    }
    return { reference: artifactRef.digest };
  }
  if (artifactRef?.semver) {
    const tags = await listTagsOf(ref, credentials);
    let tag: string | undefined;
    try {
      tag = selectHighestTag(tags, artifactRef.semver);
    } catch (error) {
      throw new OciError((error as Error).message);
    }
    if (!tag) {
      throw new OciError(
        `no tag in ${ref.registry}/${ref.repository} matches the semver range '${artifactRef.semver}'`,
      );
    }
    return { reference: tag, tag };
  }
  const tag = artifactRef?.tag ?? 'latest';
  return { reference: tag, tag };
}

async function fetchManifest(
  ref: OciRepositoryRef,
  credentials: OciCredentials | undefined,
  reference: string,
  tag: string | undefined,
): Promise<{ digest: string; manifest: OciManifest }> {
  const response = await registryFetch(ref, credentials, {
    target: `manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    notFound: tag
      ? `tag '${tag}' not found in ${ref.registry}/${ref.repository}`
      : `manifest ${reference} not found in ${ref.registry}/${ref.repository}`,
  });
  const body = Buffer.from(await response.arrayBuffer());
  const digest = sha256Digest(body);
  if (!tag && digest !== reference) {
    throw new OciError(
      `manifest digest mismatch: asked for ${reference}, got content with ${digest}`,
      undefined,
      'DIGEST_INVALID',
    );
  }
  const manifest = JSON.parse(body.toString('utf8')) as OciManifest;
  const mediaType =
    manifest.mediaType ?? response.headers.get('content-type') ?? '';
  if (
    mediaType === OCI_INDEX_MEDIA_TYPE ||
    mediaType === DOCKER_MANIFEST_LIST_MEDIA_TYPE
  ) {
    throw new OciError(
      `${ref.registry}/${ref.repository}:${reference} is an image index; only single-manifest artifacts are supported`,
    );
  }
  return { digest, manifest };
}

function revisionOf(tag: string | undefined, digest: string): string {
  return tag ? `${tag}@${digest}` : digest;
}

/** Resolves a reference to its manifest digest and Flux revision without downloading layers. */
export async function resolveArtifact(
  options: OciConnection & { ref?: OciArtifactRef },
): Promise<ResolvedArtifact> {
  const ref = parseOciUrl(options.url, options.insecure);
  const { reference, tag } = await resolveReference(
    ref,
    options.ref,
    options.credentials,
  );
  const { digest } = await fetchManifest(
    ref,
    options.credentials,
    reference,
    tag,
  );
  return { digest, tag, revision: revisionOf(tag, digest) };
}

/** Pulls an artifact and extracts its layer, as source-controller does for an OCIRepository. */
export async function pullArtifact(
  options: PullArtifactOptions,
): Promise<PulledArtifact> {
  const ref = parseOciUrl(options.url, options.insecure);
  const { reference, tag } = await resolveReference(
    ref,
    options.ref,
    options.credentials,
  );
  const { digest, manifest } = await fetchManifest(
    ref,
    options.credentials,
    reference,
    tag,
  );
  const layer = selectLayer(
    manifest,
    options.layerMediaType,
    `${ref.registry}/${ref.repository}:${reference}`,
  );
  const response = await registryFetch(ref, options.credentials, {
    target: `blobs/${layer.digest}`,
    notFound: `layer ${layer.digest} of ${ref.registry}/${ref.repository}:${reference} not found`,
  });
  const content = Buffer.from(await response.arrayBuffer());
  const actual = sha256Digest(content);
  if (actual !== layer.digest) {
    throw new OciError(
      `layer digest mismatch: the manifest says ${layer.digest}, the content is ${actual}`,
      undefined,
      'DIGEST_INVALID',
    );
  }
  try {
    await extractTarGz(content, options.destination);
  } catch (error) {
    if (error instanceof OciError) throw error;
    throw new OciError(
      `failed to extract layer ${layer.digest}: ${(error as Error).message}`,
    );
  }
  return {
    digest,
    tag,
    revision: revisionOf(tag, digest),
    metadata: { ...manifest.annotations },
    layerDigest: layer.digest,
  };
}

function selectLayer(
  manifest: OciManifest,
  mediaType: string | undefined,
  where: string,
): OciDescriptor {
  const layers = manifest.layers ?? [];
  const layer = mediaType
    ? layers.find(l => l.mediaType === mediaType)
    : layers[0];
  if (!layer) {
    throw new OciError(
      mediaType
        ? `no layer with media type '${mediaType}' in ${where}`
        : `no layers found in ${where}`,
    );
  }
  return layer;
}
