import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  FluxBootstrapRequest,
  FluxBootstrapResult,
} from '@backstage-gitops/plugin-gitops-common';

/** The gitops backend's `POST /flux/bootstrap`, called on behalf of a task's initiator. */
export interface GitOpsBootstrapApi {
  bootstrap(
    request: FluxBootstrapRequest,
    options: { credentials: BackstageCredentials },
  ): Promise<FluxBootstrapResult>;
}

/** Calls the gitops backend over HTTP with a plugin request token for the initiator. */
export class GitOpsBootstrapClient implements GitOpsBootstrapApi {
  constructor(
    private readonly services: {
      auth: AuthService;
      discovery: DiscoveryService;
    },
  ) {}

  async bootstrap(
    request: FluxBootstrapRequest,
    options: { credentials: BackstageCredentials },
  ): Promise<FluxBootstrapResult> {
    const { auth, discovery } = this.services;
    const { token } = await auth.getPluginRequestToken({
      onBehalfOf: options.credentials,
      targetPluginId: 'gitops',
    });
    const response = await fetch(
      `${await discovery.getBaseUrl('gitops')}/flux/bootstrap`,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify(request),
      },
    );
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return (await response.json()) as FluxBootstrapResult;
  }
}
