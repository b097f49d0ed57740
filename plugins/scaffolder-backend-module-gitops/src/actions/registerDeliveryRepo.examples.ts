import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

export const registerExamples: TemplateExample[] = [
  {
    description:
      'Wire the repository publish:gitlab created to Flux on dev and prod, each cluster applying its own overlay',
    example: yaml.stringify({
      steps: [
        {
          id: 'gitops',
          action: 'gitops:delivery-repo:register',
          name: 'Wire to Flux',
          input: {
            entityRef: 'component:default/my-service',
            owner: 'group:default/team-a',
            repoUrl: 'https://gitlab.example.com/team/my-service.git',
            clusters: ['dev', 'prod'],
            path: 'deploy/{cluster}',
          },
        },
      ],
    }),
  },
  {
    description:
      'Follow an OCI artifact a pipeline pushes, on a plain-HTTP registry, without a credential',
    example: yaml.stringify({
      steps: [
        {
          id: 'gitops',
          action: 'gitops:delivery-repo:register',
          name: 'Wire the artifact to Flux',
          input: {
            entityRef: 'component:default/my-service',
            repoUrl: 'oci://registry.example.com/team/my-service/manifests',
            ref: 'latest',
            clusters: ['dev'],
            path: '.',
            insecure: true,
            credential: false,
          },
        },
      ],
    }),
  },
];
