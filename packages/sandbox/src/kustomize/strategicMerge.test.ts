import { DELETE_RESOURCE, strategicMerge } from './strategicMerge';

const apps = { group: 'apps', version: 'v1', kind: 'Deployment' };

describe('strategicMerge', () => {
  it('merges keyed lists by their merge keys and replaces other lists', () => {
    const target = {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'a',
                image: 'a:1',
                args: ['--x'],
                ports: [{ containerPort: 80, name: 'http' }],
              },
              { name: 'b', image: 'b:1' },
            ],
          },
        },
      },
    };
    const patch = {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'a',
                args: ['--y'],
                ports: [
                  { containerPort: 80, protocol: 'TCP' },
                  { containerPort: 81 },
                ],
              },
              { name: 'c', image: 'c:1' },
            ],
          },
        },
      },
    };
    expect(strategicMerge(target, patch, apps)).toEqual({
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'a',
                image: 'a:1',
                args: ['--y'],
                ports: [
                  { containerPort: 80, name: 'http', protocol: 'TCP' },
                  { containerPort: 81 },
                ],
              },
              { name: 'b', image: 'b:1' },
              { name: 'c', image: 'c:1' },
            ],
          },
        },
      },
    });
  });

  it('merges Service ports by port', () => {
    const service = { group: '', version: 'v1', kind: 'Service' };
    const merged = strategicMerge(
      { spec: { ports: [{ port: 80, targetPort: 8080 }] } },
      { spec: { ports: [{ port: 80, name: 'http' }, { port: 443 }] } },
      service,
    );
    expect(merged).toEqual({
      spec: {
        ports: [{ port: 80, targetPort: 8080, name: 'http' }, { port: 443 }],
      },
    });
  });

  it('handles null, $patch delete and $patch replace', () => {
    const target = {
      metadata: { labels: { a: '1', b: '2' } },
      spec: {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
        paused: true,
      },
    };
    const patch = {
      metadata: { labels: { a: null, c: '3' } },
      spec: {
        strategy: { $patch: 'replace', type: 'Recreate' },
        paused: { $patch: 'delete' },
      },
    };
    expect(strategicMerge(target, patch, apps)).toEqual({
      metadata: { labels: { b: '2', c: '3' } },
      spec: { strategy: { type: 'Recreate' } },
    });
    expect(strategicMerge(target, { $patch: 'delete' }, apps)).toBe(
      DELETE_RESOURCE,
    );
    expect(
      strategicMerge(
        {
          spec: {
            template: { spec: { volumes: [{ name: 'a' }, { name: 'b' }] } },
          },
        },
        {
          spec: {
            template: {
              spec: { volumes: [{ $patch: 'replace' }, { name: 'z' }] },
            },
          },
        },
        apps,
      ),
    ).toEqual({ spec: { template: { spec: { volumes: [{ name: 'z' }] } } } });
  });

  it('merges lists of custom resources on a shared associative key', () => {
    const helmRelease = {
      group: 'helm.toolkit.fluxcd.io',
      version: 'v2',
      kind: 'HelmRelease',
    };
    expect(
      strategicMerge(
        {
          spec: {
            valuesFrom: [{ kind: 'ConfigMap', name: 'a' }],
            values: { hosts: ['a'] },
          },
        },
        {
          spec: {
            valuesFrom: [{ kind: 'Secret', name: 'b' }],
            values: { hosts: ['b'] },
          },
        },
        helmRelease,
      ),
    ).toEqual({
      spec: {
        valuesFrom: [
          { kind: 'ConfigMap', name: 'a' },
          { kind: 'Secret', name: 'b' },
        ],
        values: { hosts: ['b'] },
      },
    });
  });
});
