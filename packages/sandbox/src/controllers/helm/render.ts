/**
 * A small subset of Helm's template language, enough for simple charts: `{{ .Release.* }}`,
 * `{{ .Chart.* }}`, `{{ .Values.a.b }}`, string and number literals, the pipeline
 * functions `quote`, `squote`, `upper`, `lower`, `trunc`, `trimSuffix`, `default`,
 * whitespace trimming (`{{-`, `-}}`) and comments. Anything else (`if`, `range`,
 * `include`, …) is reported as a template error rather than rendered wrongly.
 */

export interface RenderContext {
  Release: {
    Name: string;
    Namespace: string;
    Service: string;
    Revision: number;
    IsInstall: boolean;
    IsUpgrade: boolean;
  };
  Chart: { Name: string; Version: string; AppVersion?: string };
  Values: Record<string, unknown>;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const ACTION = /\{\{(-?)([\s\S]*?)(-?)\}\}/g;

type Token =
  | { kind: 'field'; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'ident'; name: string };

function tokenize(expression: string, file: string): Token[][] {
  const commands: Token[][] = [[]];
  const pattern =
    /\s*(?:(\|)|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)|(\.[A-Za-z0-9_.]*)|([A-Za-z_][A-Za-z0-9_]*))/y;
  let position = 0;
  const text = expression.trim();
  while (position < text.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(text);
    if (!match) {
      throw new TemplateError(
        `template: ${file}: unexpected "${text.slice(position)}" in command`,
      );
    }
    position = pattern.lastIndex;
    const [, pipe, quoted, raw, number, field, ident] = match;
    const current = commands[commands.length - 1];
    if (pipe) commands.push([]);
    else if (quoted)
      current.push({ kind: 'string', value: JSON.parse(quoted) as string });
    else if (raw) current.push({ kind: 'string', value: raw.slice(1, -1) });
    else if (number) current.push({ kind: 'number', value: Number(number) });
    else if (field)
      current.push({ kind: 'field', path: field.split('.').filter(Boolean) });
    else if (ident) current.push({ kind: 'ident', name: ident });
  }
  return commands;
}

function lookup(context: RenderContext, path: string[]): unknown {
  let value: unknown = context;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Go's fmt %v of a value, with Helm's "<no value>" → "" rule for missing keys. */
function format(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  if (Array.isArray(value)) return `[${value.map(format).join(' ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(
    ([a], [b]) => a.localeCompare(b),
  );
  return `map[${entries.map(([k, v]) => `${k}:${format(v)}`).join(' ')}]`;
}

function argumentValue(
  token: Token,
  context: RenderContext,
  file: string,
): unknown {
  switch (token.kind) {
    case 'field':
      return lookup(context, token.path);
    case 'string':
    case 'number':
      return token.value;
    default:
      throw new TemplateError(
        `template: ${file}: function "${token.name}" not supported here`,
      );
  }
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    value === 0 ||
    (Array.isArray(value) && value.length === 0) ||
    (typeof value === 'object' && Object.keys(value as object).length === 0)
  );
}

function applyFunction(
  name: string,
  args: unknown[],
  input: unknown,
  hasInput: boolean,
  file: string,
): unknown {
  const all = hasInput ? [...args, input] : args;
  const last = all[all.length - 1];
  switch (name) {
    case 'quote':
      return all.map(v => JSON.stringify(format(v))).join(' ');
    case 'squote':
      return all.map(v => `'${format(v)}'`).join(' ');
    case 'upper':
      return format(last).toUpperCase();
    case 'lower':
      return format(last).toLowerCase();
    case 'trunc': {
      const length = Number(all[0]);
      const text = format(last);
      return length >= 0 ? text.slice(0, length) : text.slice(length);
    }
    case 'trimSuffix': {
      const suffix = format(all[0]);
      const text = format(last);
      return suffix && text.endsWith(suffix)
        ? text.slice(0, -suffix.length)
        : text;
    }
    case 'default':
      return isEmpty(last) || all.length < 2 ? all[0] : last;
    default:
      throw new TemplateError(
        `template: ${file}: function "${name}" is not supported by the sandbox's chart renderer`,
      );
  }
}

function evaluate(
  expression: string,
  context: RenderContext,
  file: string,
): string {
  const commands = tokenize(expression, file);
  let value: unknown;
  commands.forEach((tokens, index) => {
    if (tokens.length === 0)
      throw new TemplateError(`template: ${file}: missing value for command`);
    const [head, ...rest] = tokens;
    if (head.kind === 'ident') {
      const args = rest.map(t => argumentValue(t, context, file));
      value = applyFunction(head.name, args, value, index > 0, file);
    } else {
      if (rest.length > 0 || index > 0) {
        throw new TemplateError(
          `template: ${file}: can't give argument to non-function`,
        );
      }
      value = argumentValue(head, context, file);
    }
  });
  return format(value);
}

/** Renders one template file. */
export function renderTemplate(
  text: string,
  context: RenderContext,
  file: string,
): string {
  let output = '';
  let last = 0;
  for (const match of text.matchAll(ACTION)) {
    const [whole, trimLeft, body, trimRight] = match;
    let literal = text.slice(last, match.index);
    if (trimLeft) literal = literal.replace(/\s+$/, '');
    output += literal;
    last = match.index! + whole.length;
    if (trimRight) {
      const rest = text.slice(last);
      last += rest.length - rest.replace(/^\s+/, '').length;
    }
    const expression = body.trim();
    if (expression.startsWith('/*') && expression.endsWith('*/')) continue;
    const keyword =
      /^(if|else|end|range|with|define|template|include|block|tpl|toYaml|nindent|indent)\b/.exec(
        expression,
      );
    if (keyword) {
      throw new TemplateError(
        `template: ${file}: "${keyword[1]}" is not supported by the sandbox's chart renderer`,
      );
    }
    output += evaluate(expression, context, file);
  }
  return output + text.slice(last);
}
