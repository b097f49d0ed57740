import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../kube/types';
import { renderTemplate, type RenderContext } from './render';

export interface LoadedChart {
  metadata: {
    name: string;
    version: string;
    appVersion?: string;
    [key: string]: unknown;
  };
  /** The chart's own values.yaml. */
  values: Record<string, unknown>;
  /** `templates/<file>` → content, for the YAML templates (partials `_*` excluded). */
  templates: Array<{ name: string; data: string }>;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    s => s.isFile(),
    () => false,
  );
}

/** Finds the chart in an extracted chart artifact (`<name>/Chart.yaml` or `Chart.yaml`). */
async function chartRoot(dir: string): Promise<string> {
  if (await isFile(join(dir, 'Chart.yaml'))) return dir;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (
      entry.isDirectory() &&
      (await isFile(join(dir, entry.name, 'Chart.yaml')))
    ) {
      return join(dir, entry.name);
    }
  }
  throw new Error('Chart.yaml file is missing');
}

export async function loadChart(dir: string): Promise<LoadedChart> {
  const root = await chartRoot(dir);
  const metadata = (parse(await readFile(join(root, 'Chart.yaml'), 'utf8')) ??
    {}) as LoadedChart['metadata'];
  if (!metadata.name || !metadata.version) {
    throw new Error(
      'validation: chart.metadata.name and chart.metadata.version are required',
    );
  }
  metadata.version = String(metadata.version);
  let values: Record<string, unknown> = {};
  if (await isFile(join(root, 'values.yaml'))) {
    values = (parse(await readFile(join(root, 'values.yaml'), 'utf8')) ??
      {}) as Record<string, unknown>;
  }
  const templates: LoadedChart['templates'] = [];
  const templatesDir = join(root, 'templates');
  const names = await readdir(templatesDir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    if (name.startsWith('_') || !/\.ya?ml$/.test(name)) continue;
    templates.push({
      name: `templates/${name}`,
      data: await readFile(join(templatesDir, name), 'utf8'),
    });
  }
  return { metadata, values, templates };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Helm's value coalescing: maps merge deeply, anything else in `override` replaces. */
export function mergeValues(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = result[key];
    result[key] =
      isPlainObject(current) && isPlainObject(value)
        ? mergeValues(current, value)
        : value;
  }
  return result;
}

export interface RenderedManifest {
  source: string;
  objects: KubeObject[];
  text: string;
}

/** Renders every template and parses the resulting YAML documents. */
export function renderChart(
  chart: LoadedChart,
  context: RenderContext,
): RenderedManifest[] {
  return chart.templates.map(template => {
    const file = `${chart.metadata.name}/${template.name}`;
    const text = renderTemplate(template.data, context, file);
    const objects: KubeObject[] = [];
    for (const document of parseAllDocuments(text)) {
      if (document.errors.length > 0) {
        throw new Error(
          `YAML parse error on ${file}: ${document.errors[0].message}`,
        );
      }
      const value = document.toJSON() as unknown;
      if (value === null || value === undefined) continue;
      if (
        !isPlainObject(value) ||
        !value.apiVersion ||
        !value.kind ||
        !isPlainObject(value.metadata)
      ) {
        throw new Error(
          `unable to build kubernetes objects from release manifest: ${file}: missing apiVersion, kind or metadata`,
        );
      }
      objects.push(value as unknown as KubeObject);
    }
    return { source: file, objects, text };
  });
}
