import type { KubeObject, ResourceType } from './types';

/** A CRD's `additionalPrinterColumns` entry, as the sandbox serves it. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'date';
  /** `.a.b` or `.status.conditions[?(@.type=="Ready")].message`. */
  jsonPath: string;
}

/** The columns Flux's CRDs print: what `kubectl get` shows for them. */
export const FLUX_COLUMNS = {
  age: { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ready: {
    name: 'Ready',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  },
  status: {
    name: 'Status',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].message',
  },
  url: { name: 'URL', type: 'string', jsonPath: '.spec.url' },
} satisfies Record<string, PrinterColumn>;

/** Whether the client asked for a Table (`kubectl get` does). */
export function wantsTable(accept: string | undefined): boolean {
  return /(^|[;,\s])as=Table([;,\s]|$)/.test(accept ?? '');
}

/** The value at a printer column's JSONPath, for the two forms Flux's CRDs use. */
function valueAt(object: unknown, jsonPath: string): unknown {
  let value: unknown = object;
  const steps = jsonPath.match(/\.[^.[]+|\[\?\(@\.[^=]+=="[^"]*"\)\]/g) ?? [];
  for (const step of steps) {
    if (step.startsWith('.')) {
      value = (value as Record<string, unknown> | undefined)?.[step.slice(1)];
    } else {
      const [, key, wanted] = /\[\?\(@\.([^=]+)=="([^"]*)"\)\]/.exec(step)!;
      value = Array.isArray(value)
        ? value.find(
            item => (item as Record<string, unknown>)?.[key] === wanted,
          )
        : undefined;
    }
  }
  return value;
}

/** How the API server prints an age (k8s.io/apimachinery's duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const rest = seconds % 60;
    return rest === 0 ? `${minutes}m` : `${minutes}m${rest}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours}h` : `${hours}h${rest}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) {
    const rest = hours % 24;
    return rest === 0 ? `${days}d` : `${days}d${rest}h`;
  }
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

/**
 * A meta.k8s.io/v1 Table of objects, as the API server answers `kubectl get`: Name, then
 * the type's printer columns (a CRD's `additionalPrinterColumns`) or Age, each row with
 * the object's metadata as PartialObjectMetadata.
 */
export function tableOf(
  type: ResourceType,
  objects: KubeObject[],
  metadata: Record<string, unknown>,
  now = Date.now(),
): object {
  const columns: PrinterColumn[] = type.printerColumns ?? [FLUX_COLUMNS.age];
  const cell = (object: KubeObject, column: PrinterColumn) => {
    const value = valueAt(object, column.jsonPath);
    if (column.type === 'date') {
      const at = Date.parse(String(value));
      return Number.isNaN(at) ? '<unknown>' : humanDuration(now - at);
    }
    return value === undefined || value === null ? '' : String(value);
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: [
      {
        name: 'Name',
        type: 'string',
        format: 'name',
        description: 'Name must be unique within a namespace.',
        priority: 0,
      },
      ...columns.map(column => ({
        name: column.name,
        type: column.type,
        format: '',
        description: '',
        priority: 0,
      })),
    ],
    rows: objects.map(object => ({
      cells: [
        object.metadata.name,
        ...columns.map(column => cell(object, column)),
      ],
      object: {
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        metadata: object.metadata,
      },
    })),
  };
}
