import { ConfigReader } from '@backstage/config';
import { ScmIntegrations } from '@backstage/integration';

/** One GitLab integration, for turning RepoUrlPicker values into clone URLs. */
export const integrations = ScmIntegrations.fromConfig(
  new ConfigReader({
    integrations: {
      gitlab: [
        {
          host: 'gitlab.example.com',
          baseUrl: 'https://gitlab.example.com',
          apiBaseUrl: 'https://gitlab.example.com/api/v4',
          token: 'not-used',
        },
      ],
    },
  }),
);
