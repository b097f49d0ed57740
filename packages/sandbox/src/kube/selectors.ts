import { KubeObject, StoreError } from './types';

export type ObjectPredicate = (object: KubeObject) => boolean;

const KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';
const VALUE = '[-A-Za-z0-9_.]*';

/** Splits on commas that are not inside `in (...)` value sets. */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts.map(p => p.trim()).filter(p => p.length > 0);
}

function badSelector(requirement: string): StoreError {
  return new StoreError(
    400,
    'BadRequest',
    `unable to parse requirement: found '${requirement}', expected: valid label selector requirement`,
  );
}

function parseLabelRequirement(requirement: string): ObjectPredicate {
  const labelsOf = (o: KubeObject) => o.metadata.labels ?? {};
  let match = new RegExp(`^!\\s*(${KEY})$`).exec(requirement);
  if (match) {
    const key = match[1];
    return o => !(key in labelsOf(o));
  }
  match = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(
    requirement,
  );
  if (match) {
    const [, key, operator, list] = match;
    const values = list.split(',').map(v => v.trim());
    if (!values.every(v => new RegExp(`^${VALUE}$`).test(v)))
      throw badSelector(requirement);
    return operator === 'in'
      ? o => key in labelsOf(o) && values.includes(labelsOf(o)[key])
      : o => !(key in labelsOf(o)) || !values.includes(labelsOf(o)[key]);
  }
  match = new RegExp(`^(${KEY})\\s*(==|=|!=|>|<)\\s*(${VALUE})$`).exec(
    requirement,
  );
  if (match) {
    const [, key, operator, value] = match;
    switch (operator) {
      case '!=':
        return o => labelsOf(o)[key] !== value;
      case '>':
      case '<': {
        const bound = Number(value);
        if (!Number.isInteger(bound)) throw badSelector(requirement);
        return o => {
          const actual = Number(labelsOf(o)[key]);
          return (
            key in labelsOf(o) &&
            Number.isInteger(actual) &&
            (operator === '>' ? actual > bound : actual < bound)
          );
        };
      }
      default:
        return o => key in labelsOf(o) && labelsOf(o)[key] === value;
    }
  }
  match = new RegExp(`^(${KEY})$`).exec(requirement);
  if (match) {
    const key = match[1];
    return o => key in labelsOf(o);
  }
  throw badSelector(requirement);
}

/** Kubernetes label selector syntax: `a=b,c!=d,e in (f,g),!h,i`. */
export function parseLabelSelector(
  selector: string | undefined,
): ObjectPredicate {
  if (!selector) return () => true;
  const requirements = splitRequirements(selector).map(parseLabelRequirement);
  return o => requirements.every(r => r(o));
}

/** The value of a dotted path, stringified the way field selectors compare it (missing → ''). */
export function fieldValue(object: KubeObject, path: string): string {
  let current: unknown = object;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object') return '';
    current = (current as Record<string, unknown>)[segment];
  }
  if (current === undefined || current === null) return '';
  return typeof current === 'object'
    ? JSON.stringify(current)
    : String(current);
}

/** `metadata.name=x,metadata.namespace!=y`; any dotted path on the object is accepted. */
export function parseFieldSelector(
  selector: string | undefined,
): ObjectPredicate {
  if (!selector) return () => true;
  const requirements = splitRequirements(selector).map(
    (requirement): ObjectPredicate => {
      const match = /^([A-Za-z0-9_.-]+)\s*(==|=|!=)\s*(.*)$/.exec(requirement);
      if (!match) {
        throw new StoreError(
          400,
          'BadRequest',
          `invalid selector: '${selector}'; can't understand '${requirement}'`,
        );
      }
      const [, path, operator, value] = match;
      return operator === '!='
        ? o => fieldValue(o, path) !== value
        : o => fieldValue(o, path) === value;
    },
  );
  return o => requirements.every(r => r(o));
}
