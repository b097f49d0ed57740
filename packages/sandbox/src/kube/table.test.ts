import { FLUX_COLUMNS, humanDuration, tableOf, wantsTable } from './table';
import type { ResourceType } from './types';

describe('tables for kubectl get', () => {
  it('prints ages as the API server does', () => {
    expect(
      [
        5,
        119,
        120,
        125,
        600,
        179 * 60,
        3 * 3600 + 60,
        30 * 3600,
        49 * 3600,
        9 * 86400,
      ].map(seconds => humanDuration(seconds * 1000)),
    ).toEqual([
      '5s',
      '119s',
      '2m',
      '2m5s',
      '10m',
      '179m',
      '3h1m',
      '30h',
      '2d1h',
      '9d',
    ]);
  });

  it('recognizes the Table media type kubectl asks for', () => {
    expect(
      wantsTable(
        'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      ),
    ).toBe(true);
    expect(wantsTable('application/json')).toBe(false);
    expect(wantsTable(undefined)).toBe(false);
  });

  it("fills a CRD's printer columns, a condition's fields included", () => {
    const type = {
      printerColumns: [
        FLUX_COLUMNS.url,
        FLUX_COLUMNS.ready,
        FLUX_COLUMNS.status,
      ],
    } as ResourceType;
    const table = tableOf(
      type,
      [
        {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: 'delivery', namespace: 'flux-system' },
          spec: { url: 'https://git.example.com/team/delivery.git' },
          status: {
            conditions: [
              { type: 'Reconciling', status: 'True', message: 'busy' },
              { type: 'Ready', status: 'True', message: 'stored artifact' },
            ],
          },
        },
      ],
      { resourceVersion: '7' },
    ) as {
      columnDefinitions: Array<{ name: string }>;
      rows: Array<{ cells: string[] }>;
    };
    expect(table.columnDefinitions.map(c => c.name)).toEqual([
      'Name',
      'URL',
      'Ready',
      'Status',
    ]);
    expect(table.rows[0].cells).toEqual([
      'delivery',
      'https://git.example.com/team/delivery.git',
      'True',
      'stored artifact',
    ]);
  });
});
