import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

export const manifestsExamples: TemplateExample[] = [
  {
    description:
      'Render the Flux objects for dev and prod into flux/ of the workspace, to commit them with the repository',
    example: yaml.stringify({
      steps: [
        {
          id: 'manifests',
          action: 'gitops:flux:manifests',
          name: 'Render the Flux objects',
          input: {
            entityRef: 'component:default/my-service',
            repoUrl: 'https://gitlab.example.com/team/my-service.git',
            clusters: ['dev', 'prod'],
            targetPath: 'flux',
          },
        },
      ],
    }),
  },
];
