import { TokenUsage } from '@backstage-gitops/plugin-gitops-common';
import {
  ApiException,
  KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../receivers/ReceiverManager';
import { IssuedCredential } from './GitLabCredentialIssuer';

/** One Secret to write a credential into, with the formats and keys it holds it in. */
export interface SecretTarget {
  cluster: string;
  namespace: string;
  secret: string;
  formats: Array<Pick<TokenUsage, 'format'> & { registry?: string }>;
}

type SecretData = Record<string, string>;

const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
const unb64 = (value: string | undefined) =>
  value === undefined
    ? undefined
    : Buffer.from(value, 'base64').toString('utf8');

/** The `data` keys to set so the Secret holds `credential` in each of its formats. */
export function dataFor(
  old: SecretData | undefined,
  formats: SecretTarget['formats'],
  credential: Pick<IssuedCredential, 'value' | 'username' | 'publicKey'>,
): SecretData {
  const data: SecretData = {};
  for (const { format, registry } of formats) {
    switch (format) {
      case 'basic-auth':
        data.username = b64(
          credential.username ?? unb64(old?.username) ?? 'backstage-gitops',
        );
        data.password = b64(credential.value);
        break;
      case 'bearer-token':
        data.bearerToken = b64(credential.value);
        break;
      case 'token':
        data.token = b64(credential.value);
        break;
      case 'ssh-key':
        data.identity = b64(credential.value);
        if (credential.publicKey)
          data['identity.pub'] = b64(credential.publicKey);
        break;
      case 'docker-config': {
        let config: { auths?: Record<string, Record<string, string>> } = {};
        try {
          config = JSON.parse(unb64(old?.['.dockerconfigjson']) ?? '{}');
        } catch {
          config = {};
        }
        const auths = { ...(config.auths ?? {}) };
        const key =
          Object.keys(auths).find(
            k =>
              k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === registry,
          ) ?? registry!;
        const username =
          credential.username ?? auths[key]?.username ?? 'backstage-gitops';
        auths[key] = {
          username,
          password: credential.value,
          auth: b64(`${username}:${credential.value}`),
        };
        data['.dockerconfigjson'] = b64(JSON.stringify({ ...config, auths }));
        break;
      }
      default:
    }
  }
  return data;
}

/**
 * Reads and writes Secrets for rotations: only the keys a credential lives in, by
 * server-side apply as the backend's field manager, so a rollback can put back exactly
 * what was there.
 */
export class SecretWriter {
  constructor(
    private readonly objectApi: (
      cluster: string,
    ) => KubernetesObjectApi | undefined,
  ) {}

  /** The Secret's data; undefined when it has none or does not exist yet. */
  async read(
    target: Omit<SecretTarget, 'formats'>,
  ): Promise<SecretData | undefined> {
    try {
      const secret = await this.api(target.cluster).read<
        KubernetesObject & { data?: SecretData }
      >({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: target.secret, namespace: target.namespace },
      });
      return secret.data;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  async apply(target: SecretTarget, data: SecretData): Promise<void> {
    await this.api(target.cluster).patch(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: target.secret, namespace: target.namespace },
        data,
      } as KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      PatchStrategy.ServerSideApply,
    );
  }

  private api(cluster: string): KubernetesObjectApi {
    const api = this.objectApi(cluster);
    if (!api) throw new Error(`No cluster ${cluster}`);
    return api;
  }
}
