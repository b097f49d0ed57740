import {
  mkdtemp,
  mkdir,
  readFile,
  readdir,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  OciAuthError,
  OciError,
  OciNotFoundError,
  listTags,
  pullArtifact,
  pushArtifact,
  resolveArtifact,
  startRegistry,
  type RegistryAccessRequest,
  type RunningRegistry,
} from './index';

async function readTree(
  dir: string,
  prefix = '',
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(join(dir, prefix), {
    withFileTypes: true,
  })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory())
      Object.assign(files, await readTree(dir, relative));
    else files[relative] = await readFile(join(dir, relative), 'utf8');
  }
  return files;
}

async function writeTree(
  dir: string,
  files: Record<string, string>,
): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(join(dir, relative, '..'), { recursive: true });
    await writeFile(join(dir, relative), content);
  }
}

const deliveryFiles = {
  'apps/podinfo/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
  'apps/podinfo/deployment.yaml':
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n',
  'README.md': '# delivery\n',
  'clusters/dev/flux.yaml': 'kind: Kustomization\n',
};

describe('OCI registry and artifact client', () => {
  let workDir: string;
  let registry: RunningRegistry;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'oci-test-'));
    registry = await startRegistry({ dataDir: join(workDir, 'registry') });
  });

  afterAll(async () => {
    await registry?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  async function sourceDir(
    name: string,
    files: Record<string, string> = deliveryFiles,
  ) {
    const dir = join(workDir, name);
    await writeTree(dir, files);
    return dir;
  }

  it('answers the distribution API base endpoint on loopback', async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const response = await fetch(`${registry.url}/v2/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-distribution-api-version')).toBe(
      'registry/2.0',
    );
  });

  it('round-trips a directory with identical files, digest, revision and metadata', async () => {
    const url = `oci://${registry.host}/team/podinfo`;
    const source = await sourceDir('roundtrip-src');
    const pushed = await pushArtifact({
      url,
      tag: 'v1.0.0',
      sourceDir: source,
      source: 'https://gitlab.example/team/delivery.git',
      revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
      created: '2024-05-01T10:00:00Z',
    });
    expect(pushed.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(pushed.reference).toBe(
      `${registry.host}/team/podinfo:v1.0.0@${pushed.digest}`,
    );

    const destination = join(workDir, 'roundtrip-dst');
    const pulled = await pullArtifact({
      url,
      ref: { tag: 'v1.0.0' },
      destination,
    });
    expect(pulled.digest).toBe(pushed.digest);
    expect(pulled.tag).toBe('v1.0.0');
    expect(pulled.revision).toBe(`v1.0.0@${pushed.digest}`);
    expect(pulled.metadata).toEqual({
      'org.opencontainers.image.created': '2024-05-01T10:00:00Z',
      'org.opencontainers.image.source':
        'https://gitlab.example/team/delivery.git',
      'org.opencontainers.image.revision':
        'main@sha1:0123456789abcdef0123456789abcdef01234567',
    });
    expect(await readTree(destination)).toEqual(deliveryFiles);
  });

  it('stores the manifest exactly as flux push artifact does', async () => {
    const url = `oci://${registry.host}/team/layout`;
    const pushed = await pushArtifact({
      url,
      tag: 'latest',
      sourceDir: await sourceDir('layout-src'),
      source: 'https://gitlab.example/team/delivery.git',
      revision: 'main@sha1:1111111111111111111111111111111111111111',
    });
    const response = await fetch(
      `${registry.url}/v2/team/layout/manifests/latest`,
      {
        headers: { accept: OCI_MANIFEST_MEDIA_TYPE },
      },
    );
    expect(response.headers.get('content-type')).toBe(OCI_MANIFEST_MEDIA_TYPE);
    expect(response.headers.get('docker-content-digest')).toBe(pushed.digest);
    const manifest = await response.json();
    expect(manifest).toMatchObject({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, size: 2 },
      layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE }],
    });
    expect(manifest.annotations['org.opencontainers.image.created']).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    const config = await fetch(
      `${registry.url}/v2/team/layout/blobs/${manifest.config.digest}`,
    );
    expect(await config.text()).toBe('{}');

    // The default reference is the tag `latest`.
    const resolved = await resolveArtifact({ url });
    expect(resolved).toEqual({
      digest: pushed.digest,
      tag: 'latest',
      revision: `latest@${pushed.digest}`,
    });
  });

  it('builds the same layer and manifest digests for the same content', async () => {
    const common = {
      url: `oci://${registry.host}/team/deterministic`,
      source: 'https://gitlab.example/team/delivery.git',
      revision: 'main@sha1:2222222222222222222222222222222222222222',
      created: '2024-05-01T10:00:00Z',
    };
    const first = await pushArtifact({
      ...common,
      tag: 'a',
      sourceDir: await sourceDir('det-a'),
    });
    // Different files' timestamps must not matter.
    await new Promise(done => setTimeout(done, 20));
    const second = await pushArtifact({
      ...common,
      tag: 'b',
      sourceDir: await sourceDir('det-b'),
    });
    expect(second.digest).toBe(first.digest);

    const changed = await pushArtifact({
      ...common,
      tag: 'c',
      sourceDir: await sourceDir('det-c', {
        ...deliveryFiles,
        'README.md': 'changed\n',
      }),
    });
    expect(changed.digest).not.toBe(first.digest);
  });

  it('leaves ignored paths out of the artifact', async () => {
    const url = `oci://${registry.host}/team/ignored`;
    const source = await sourceDir('ignore-src', {
      ...deliveryFiles,
      '.git/HEAD': 'ref: refs/heads/main\n',
    });
    await pushArtifact({
      url,
      tag: 'v1',
      sourceDir: source,
      source: 's',
      revision: 'r',
      ignorePaths: ['.git'],
    });
    const destination = join(workDir, 'ignore-dst');
    await pullArtifact({ url, ref: { tag: 'v1' }, destination });
    expect(await readTree(destination)).toEqual(deliveryFiles);
  });

  it('pulls by digest with the digest as revision', async () => {
    const url = `oci://${registry.host}/team/bydigest`;
    const pushed = await pushArtifact({
      url,
      tag: 'v2',
      sourceDir: await sourceDir('digest-src'),
      source: 's',
      revision: 'r',
    });
    const destination = join(workDir, 'digest-dst');
    const pulled = await pullArtifact({
      url,
      ref: { digest: pushed.digest, tag: 'ignored' },
      destination,
    });
    expect(pulled.revision).toBe(pushed.digest);
    expect(pulled.tag).toBeUndefined();
    expect((await stat(join(destination, 'README.md'))).isFile()).toBe(true);
  });

  it('selects the highest tag matching a semver range', async () => {
    const url = `oci://${registry.host}/team/versions`;
    const source = await sourceDir('semver-src');
    const digests: Record<string, string> = {};
    for (const tag of [
      '1.0.0',
      '1.2.0',
      '1.2.7',
      '1.10.1',
      '2.0.0',
      '2.1.0-rc.1',
      'latest',
    ]) {
      const pushed = await pushArtifact({
        url,
        tag,
        sourceDir: source,
        source: 's',
        revision: `${tag}@sha1:3333333333333333333333333333333333333333`,
      });
      digests[tag] = pushed.digest;
    }
    expect((await listTags(url)).sort()).toEqual([
      '1.0.0',
      '1.10.1',
      '1.2.0',
      '1.2.7',
      '2.0.0',
      '2.1.0-rc.1',
      'latest',
    ]);
    const pick = async (semver: string) =>
      (await resolveArtifact({ url, ref: { semver, tag: 'latest' } })).tag;
    expect(await pick('>=1.0.0')).toBe('2.0.0');
    expect(await pick('1.x')).toBe('1.10.1');
    expect(await pick('^1.2.0')).toBe('1.10.1');
    expect(await pick('~1.2.0')).toBe('1.2.7');
    expect(await pick('1.2.0')).toBe('1.2.0');
    expect(await pick('>=2.1.0-rc.0')).toBe('2.1.0-rc.1');

    const destination = join(workDir, 'semver-dst');
    const pulled = await pullArtifact({
      url,
      ref: { semver: '^1.0.0' },
      destination,
    });
    expect(pulled.revision).toBe(`1.10.1@${digests['1.10.1']}`);
    expect(pulled.metadata['org.opencontainers.image.revision']).toBe(
      '1.10.1@sha1:3333333333333333333333333333333333333333',
    );
    await expect(
      resolveArtifact({ url, ref: { semver: '>=3.0.0' } }),
    ).rejects.toThrow(/no tag .* matches the semver range '>=3.0.0'/);
  });

  it('reports a missing tag or repository as not found', async () => {
    const url = `oci://${registry.host}/team/podinfo`;
    const error = await pullArtifact({
      url,
      ref: { tag: 'v9.9.9' },
      destination: join(workDir, 'missing'),
    }).catch(e => e);
    expect(error).toBeInstanceOf(OciNotFoundError);
    expect(error.code).toBe('MANIFEST_UNKNOWN');
    expect(error.message).toContain(
      `tag 'v9.9.9' not found in ${registry.host}/team/podinfo`,
    );
    await expect(
      listTags(`oci://${registry.host}/team/nothing-here`),
    ).rejects.toBeInstanceOf(OciNotFoundError);
  });

  it('answers injected faults with the registry error shape, then recovers', async () => {
    const url = `oci://${registry.host}/team/podinfo`;
    registry.failNext(1, 503);
    const error = await resolveArtifact({ url, ref: { tag: 'v1.0.0' } }).catch(
      e => e,
    );
    expect(error).toBeInstanceOf(OciError);
    expect(error).not.toBeInstanceOf(OciNotFoundError);
    expect(error.status).toBe(503);
    expect(error.code).toBe('UNAVAILABLE');
    await expect(
      resolveArtifact({ url, ref: { tag: 'v1.0.0' } }),
    ).resolves.toMatchObject({ tag: 'v1.0.0' });
  });

  it('rejects a URL carrying a tag and invalid references', async () => {
    await expect(
      resolveArtifact({ url: `oci://${registry.host}/team/podinfo:v1` }),
    ).rejects.toThrow(/not a valid repository name/);
    await expect(
      resolveArtifact({
        url: `oci://${registry.host}/team/podinfo`,
        ref: { digest: 'sha256:nothex' },
      }),
    ).rejects.toThrow(/invalid digest/);
  });
});

describe('OCI registry behind Basic auth', () => {
  let workDir: string;
  let registry: RunningRegistry;
  const seen: RegistryAccessRequest[] = [];

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'oci-auth-test-'));
    registry = await startRegistry({
      dataDir: join(workDir, 'registry'),
      authorize: request => {
        seen.push(request);
        if (
          request.username === 'deployer' &&
          request.password === 'push-secret'
        )
          return true;
        if (
          request.username === 'reader' &&
          request.password === 'pull-secret'
        ) {
          return (
            request.action === 'pull' && request.repository !== 'other/secret'
          );
        }
        return 'unauthenticated';
      },
    });
    await writeTree(join(workDir, 'src'), deliveryFiles);
  });

  afterAll(async () => {
    await registry?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  const url = () => `oci://${registry.host}/team/private`;

  it('demands credentials with a 401 challenge and the registry error body', async () => {
    const response = await fetch(`${registry.url}/v2/team/private/tags/list`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'Basic realm="Registry"',
    );
    const body = await response.json();
    expect(body.errors[0]).toMatchObject({
      code: 'UNAUTHORIZED',
      detail: [{ Type: 'repository', Name: 'team/private', Action: 'pull' }],
    });
    const error = await listTags(url()).catch(e => e);
    expect(error).toBeInstanceOf(OciAuthError);
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/authentication required/);
  });

  it('pushes and pulls with credentials that are allowed', async () => {
    const pushed = await pushArtifact({
      url: url(),
      tag: 'v1',
      sourceDir: join(workDir, 'src'),
      source: 's',
      revision: 'r',
      credentials: { username: 'deployer', password: 'push-secret' },
    });
    expect(seen).toContainEqual({
      username: 'deployer',
      password: 'push-secret',
      repository: 'team/private',
      action: 'push',
    });
    const pulled = await pullArtifact({
      url: url(),
      ref: { tag: 'v1' },
      destination: join(workDir, 'dst'),
      credentials: { username: 'reader', password: 'pull-secret' },
    });
    expect(pulled.digest).toBe(pushed.digest);
    expect(await readTree(join(workDir, 'dst'))).toEqual(deliveryFiles);
  });

  it('denies with 403 what the credentials may not do, and 401s wrong credentials', async () => {
    const reader = { username: 'reader', password: 'pull-secret' };
    const pushError = await pushArtifact({
      url: url(),
      tag: 'v2',
      sourceDir: join(workDir, 'src'),
      source: 's',
      revision: 'r',
      credentials: reader,
    }).catch(e => e);
    expect(pushError).toBeInstanceOf(OciAuthError);
    expect(pushError.status).toBe(403);
    expect(pushError.code).toBe('DENIED');

    const raw = await fetch(`${registry.url}/v2/other/secret/tags/list`, {
      headers: {
        authorization: `Basic ${Buffer.from('reader:pull-secret').toString(
          'base64',
        )}`,
      },
    });
    expect(raw.status).toBe(403);
    expect((await raw.json()).errors[0].code).toBe('DENIED');

    const wrong = await listTags(url(), {
      username: 'reader',
      password: 'nope',
    }).catch(e => e);
    expect(wrong).toBeInstanceOf(OciAuthError);
    expect(wrong.status).toBe(401);
    expect(wrong.message).toMatch(/authentication failed/);
  });
});

describe('startRegistry', () => {
  it('explains how to install a missing docker-registry binary', async () => {
    await expect(
      startRegistry({
        dataDir: join(tmpdir(), 'unused-registry'),
        binary: '/nonexistent/docker-registry',
      }),
    ).rejects.toThrow(/apt-get install docker-registry/);
  });
});
