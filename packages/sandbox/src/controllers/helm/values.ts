import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { KubeObject } from '../../kube/types';
import { byteOrder } from '../artifacts';
import { mergeValues } from './chart';
import { StepFailure, specOf, type HelmEnvironment } from './types';

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(
      ([a], [b]) => byteOrder(a, b),
    );
    return `{${entries
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function digestValues(values: Record<string, unknown>): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(values))
    .digest('hex')}`;
}

function setPath(
  target: Record<string, unknown>,
  path: string,
  value: unknown,
): void {
  const keys = path.split('.');
  let cursor = target;
  keys.slice(0, -1).forEach(key => {
    if (typeof cursor[key] !== 'object' || cursor[key] === null)
      cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  });
  cursor[keys[keys.length - 1]] = value;
}

/** chartutil.ChartValuesFromReferences: `valuesFrom` in order, then `spec.values`. */
export function composeValues(
  env: HelmEnvironment,
  object: KubeObject,
): Record<string, unknown> {
  const spec = specOf(object);
  const namespace = object.metadata.namespace ?? 'default';
  let values: Record<string, unknown> = {};
  for (const reference of spec.valuesFrom ?? []) {
    const kind = reference.kind ?? 'ConfigMap';
    const key = reference.valuesKey || 'values.yaml';
    const source = env.store.get(
      { apiVersion: 'v1', kind },
      namespace,
      reference.name ?? '',
    );
    const description = `${kind} chart values reference '${namespace}/${reference.name}' with key '${key}'`;
    if (!source) {
      if (reference.optional) continue;
      throw new StepFailure(
        'ValuesError',
        `could not resolve ${description}: ${
          kind === 'Secret' ? 'secrets' : 'configmaps'
        } "${reference.name}" not found`,
        { retryWithBackoff: true },
      );
    }
    const data = (source.data ?? {}) as Record<string, string>;
    let text = data[key];
    if (text !== undefined && kind === 'Secret')
      text = Buffer.from(text, 'base64').toString('utf8');
    if (text === undefined) {
      if (reference.optional) continue;
      throw new StepFailure(
        'ValuesError',
        `missing key '${key}' in ${description}`,
        { retryWithBackoff: true },
      );
    }
    if (reference.targetPath) {
      setPath(values, reference.targetPath, text);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = parse(text);
    } catch (error) {
      throw new StepFailure(
        'ValuesError',
        `unable to read values from ${description}: ${
          (error as Error).message
        }`,
        {
          retryWithBackoff: true,
        },
      );
    }
    if (parsed && typeof parsed === 'object')
      values = mergeValues(values, parsed as Record<string, unknown>);
  }
  return mergeValues(values, spec.values ?? {});
}
