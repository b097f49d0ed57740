import {
  configApiRef,
  gitlabAuthApiRef,
  useApi,
} from '@backstage/core-plugin-api';
import { createFrontendModule } from '@backstage/frontend-plugin-api';
import {
  SignInPageBlueprint,
  SignInPageProps,
} from '@backstage/plugin-app-react';
import type { IdentityProviders } from '@backstage/core-components';

/** "Sign in with GitLab": the demo's sandbox GitLab, or the organisation's. */
export const gitlabProvider = {
  id: 'gitlab-auth-provider',
  title: 'GitLab',
  message: 'Sign in using GitLab',
  apiRef: gitlabAuthApiRef,
};

/**
 * The providers offered: the guest, and GitLab when `auth.providers.gitlab` is
 * configured (only the key reaches the app, see config.d.ts; never its settings).
 */
export function signInProviders(gitlabConfigured: boolean): IdentityProviders {
  return gitlabConfigured ? ['guest', gitlabProvider] : ['guest'];
}

export const signInPage = SignInPageBlueprint.make({
  params: {
    loader: async () => {
      const { SignInPage } = await import('@backstage/core-components');
      return function AppSignInPage(props: SignInPageProps) {
        const config = useApi(configApiRef);
        return (
          <SignInPage
            {...props}
            providers={signInProviders(config.has('auth.providers.gitlab'))}
          />
        );
      };
    },
  },
});

/** Replaces the app's default (guest-only) sign-in page. */
export const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [signInPage],
});
