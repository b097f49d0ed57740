import { Conditions } from './conditions';
import { durationOr, formatGoDuration, parseGoDuration } from './duration';
import { computeKStatus } from './kstatus';
import { upsertHistory } from './kustomize/history';
import { SourceIgnoreMatcher } from './sourceignore';
import {
  renderTemplate,
  TemplateError,
  type RenderContext,
} from './helm/render';

describe('Go durations', () => {
  it('parses the forms Flux specs use', () => {
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('10m')).toBe(600_000);
    expect(parseGoDuration('5s')).toBe(5_000);
    expect(parseGoDuration('1h')).toBe(3_600_000);
    expect(parseGoDuration('1.5s')).toBe(1_500);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('0')).toBe(0);
    expect(() => parseGoDuration('10')).toThrow('time: invalid duration "10"');
    expect(durationOr(undefined, 42)).toBe(42);
    expect(durationOr('nonsense', 42)).toBe(42);
  });

  it("formats like Go's Duration.String()", () => {
    expect(formatGoDuration(600_000)).toBe('10m0s');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(30_000)).toBe('30s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
    expect(formatGoDuration(1_500)).toBe('1.5s');
    expect(formatGoDuration(2.25)).toBe('2.25ms');
    expect(formatGoDuration(0.0015)).toBe('1.5µs');
    expect(formatGoDuration(0)).toBe('0s');
  });
});

describe('Conditions', () => {
  it('moves lastTransitionTime only when the status flips and stamps the generation', () => {
    const conditions = new Conditions(
      [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Succeeded',
          message: 'old',
          lastTransitionTime: '2020-01-01T00:00:00Z',
        },
      ],
      3,
    );
    conditions.markTrue('Ready', 'Succeeded', 'new message');
    expect(conditions.get('Ready')).toMatchObject({
      lastTransitionTime: '2020-01-01T00:00:00Z',
      message: 'new message',
      observedGeneration: 3,
    });
    conditions.markFalse('Ready', 'Failed', 'broken');
    expect(conditions.get('Ready')?.lastTransitionTime).not.toBe(
      '2020-01-01T00:00:00Z',
    );
  });

  it("keeps Ready as it is on a progressive status unless there is drift (Flux's ProgressiveStatus)", () => {
    const conditions = new Conditions([], 1);
    conditions.markTrue('Ready', 'Succeeded', 'stored');
    conditions.progressive(false, 'Progressing', 'reconciliation in progress');
    expect(conditions.get('Ready')?.status).toBe('True');
    expect(conditions.get('Reconciling')).toMatchObject({
      status: 'True',
      reason: 'Progressing',
    });
    conditions.progressive(
      true,
      'Progressing',
      'building artifact: new upstream revision',
    );
    expect(conditions.get('Ready')).toMatchObject({
      status: 'Unknown',
      message: 'building artifact: new upstream revision',
    });
    expect(conditions.list().map(c => c.type)).toEqual([
      'Ready',
      'Reconciling',
    ]);
  });
});

describe('kstatus', () => {
  const deployment = (status: Record<string, unknown>, generation = 2) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation },
    spec: { replicas: 2 },
    status,
  });

  it('follows the Deployment rollout and the Flux conditions', () => {
    expect(computeKStatus(undefined).status).toBe('NotFound');
    expect(computeKStatus(deployment({ observedGeneration: 1 })).status).toBe(
      'InProgress',
    );
    expect(
      computeKStatus(
        deployment({
          observedGeneration: 2,
          updatedReplicas: 2,
          availableReplicas: 1,
          readyReplicas: 1,
          replicas: 2,
        }),
      ),
    ).toEqual({
      status: 'InProgress',
      message: 'Available: 1/2',
    });
    expect(
      computeKStatus(
        deployment({
          observedGeneration: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          readyReplicas: 2,
          replicas: 2,
        }),
      ).status,
    ).toBe('Current');
    const flux = (conditions: unknown[]) => ({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'k', generation: 1 },
      status: { observedGeneration: 1, conditions },
    });
    expect(
      computeKStatus(
        flux([{ type: 'Reconciling', status: 'True', message: 'working' }]),
      ).status,
    ).toBe('InProgress');
    expect(
      computeKStatus(
        flux([{ type: 'Stalled', status: 'True', message: 'stuck' }]),
      ).status,
    ).toBe('Failed');
    expect(
      computeKStatus(flux([{ type: 'Ready', status: 'True' }])).status,
    ).toBe('Current');
    expect(
      computeKStatus({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c' },
      }).status,
    ).toBe('Current');
  });
});

describe('Kustomization history', () => {
  it('upserts by digest, newest first, five at most', () => {
    let history = upsertHistory(undefined, {
      digest: 'sha256:a',
      durationMs: 1500,
      status: 'ReconciliationSucceeded',
      metadata: { revision: 'r1' },
    });
    history = upsertHistory(history, {
      digest: 'sha256:a',
      durationMs: 200,
      status: 'ReconciliationSucceeded',
      metadata: { revision: 'r1' },
    });
    expect(history).toEqual([
      expect.objectContaining({
        digest: 'sha256:a',
        totalReconciliations: 2,
        lastReconciledDuration: '200ms',
      }),
    ]);
    for (const digest of ['b', 'c', 'd', 'e', 'f']) {
      history = upsertHistory(history, {
        digest: `sha256:${digest}`,
        durationMs: 1,
        status: 'ReconciliationFailed',
      });
    }
    expect(history.map(s => s.digest)).toEqual([
      'sha256:f',
      'sha256:e',
      'sha256:d',
      'sha256:c',
      'sha256:b',
    ]);
  });
});

describe('source ignore rules', () => {
  it("applies Flux's defaults and gitignore-style extra patterns", () => {
    const matcher = SourceIgnoreMatcher.withDefaults(
      '/secrets/\n*.md\n!README.md\n',
    );
    expect(matcher.ignores('.git', true)).toBe(true);
    expect(matcher.ignores('.github/workflows/ci.yaml', false)).toBe(true);
    expect(matcher.ignores('docs/logo.png', false)).toBe(true);
    expect(matcher.ignores('apps/.sops.yaml', false)).toBe(true);
    expect(matcher.ignores('secrets/token.yaml', false)).toBe(true);
    expect(matcher.ignores('apps/secrets/token.yaml', false)).toBe(false);
    expect(matcher.ignores('CHANGES.md', false)).toBe(true);
    expect(matcher.ignores('README.md', false)).toBe(false);
    expect(matcher.ignores('apps/deployment.yaml', false)).toBe(false);
  });
});

describe('chart template rendering', () => {
  const context: RenderContext = {
    Release: {
      Name: 'web',
      Namespace: 'apps',
      Service: 'Helm',
      Revision: 1,
      IsInstall: true,
      IsUpgrade: false,
    },
    Chart: { Name: 'web', Version: '1.0.0' },
    Values: {
      image: { repository: 'nginx', tag: '1.27' },
      empty: '',
      replicas: 3,
    },
  };

  it('renders fields, literals and simple pipelines with whitespace trimming', () => {
    const text = [
      'name: {{ .Release.Name }}-{{ .Chart.Version }}',
      'image: {{ .Values.image.repository }}:{{ .Values.image.tag }}',
      'quoted: {{ .Values.replicas | quote }}',
      'fallback: {{ .Values.empty | default "none" | upper }}',
      'missing: [{{ .Values.nope }}]',
      '{{- /* a comment */}}',
      'short: {{ "abcdef" | trunc 3 }}',
    ].join('\n');
    expect(renderTemplate(text, context, 'web/templates/x.yaml')).toBe(
      [
        'name: web-1.0.0',
        'image: nginx:1.27',
        'quoted: "3"',
        'fallback: NONE',
        'missing: []',
        'short: abc',
      ].join('\n'),
    );
  });

  it('refuses constructs it does not implement instead of rendering them wrongly', () => {
    expect(() =>
      renderTemplate(
        '{{ if .Values.x }}y{{ end }}',
        context,
        'web/templates/x.yaml',
      ),
    ).toThrow(TemplateError);
    expect(() =>
      renderTemplate(
        '{{ include "web.name" . }}',
        context,
        'web/templates/x.yaml',
      ),
    ).toThrow(/not supported/);
  });
});
