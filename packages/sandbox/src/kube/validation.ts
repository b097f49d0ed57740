import type { KubeObject } from './types';

/** One field-level problem, shaped like the `causes` of a Kubernetes 422 Status. */
export interface FieldCause {
  reason:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden';
  field: string;
  message: string;
}

/**
 * Thrown by `ResourceType.validate`: its message is the API server's field error list
 * (`spec.url: Required value`, or `[a, b]` for several), and the causes are kept for the Status.
 */
export class FieldValidationError extends Error {
  constructor(readonly causes: FieldCause[]) {
    super(
      causes.length === 1
        ? causes[0].message
        : `[${causes.map(c => c.message).join(', ')}]`,
    );
    this.name = 'FieldValidationError';
  }
}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const LABEL_VALUE = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';

/** The name rule a kind's registry enforces. */
export type NameRule =
  | 'dns1123Subdomain'
  | 'dns1123Label'
  | 'dns1035Label'
  | 'pathSegment';

const NAME_RULES: Record<
  NameRule,
  { regex: string; max: number; explain: string }
> = {
  dns1123Subdomain: {
    regex: DNS1123_SUBDOMAIN,
    max: 253,
    explain:
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  },
  dns1123Label: {
    regex: DNS1123_LABEL,
    max: 63,
    explain:
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  },
  // RBAC objects (ValidateRBACName): any name usable as a URL path segment.
  pathSegment: {
    regex: '(?!\\.\\.?$)[^/%]+',
    max: 253,
    explain: "may not be '.' or '..' and may not contain '/' or '%'",
  },
  dns1035Label: {
    regex: DNS1035_LABEL,
    max: 63,
    explain:
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  },
};

function fullMatch(regex: string, value: string): boolean {
  return new RegExp(`^${regex}$`).test(value);
}

function invalid(field: string, value: unknown, detail: string): FieldCause {
  return {
    reason: 'FieldValueInvalid',
    field,
    message: `${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`,
  };
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && fullMatch(DNS1123_SUBDOMAIN, value);
}

const qualifiedNameExplanation =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";

/** The checks every registry runs on ObjectMeta: name format and label syntax. */
export function validateObjectMeta(
  object: KubeObject,
  nameRule: NameRule,
): FieldCause[] {
  const causes: FieldCause[] = [];
  const { name, labels, annotations } = object.metadata ?? {};
  if (!name) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message:
        'metadata.name: Required value: name or generateName is required',
    });
  } else {
    const rule = NAME_RULES[nameRule];
    if (name.length > rule.max) {
      causes.push(
        invalid(
          'metadata.name',
          name,
          `must be no more than ${rule.max} characters`,
        ),
      );
    } else if (!fullMatch(rule.regex, name)) {
      causes.push(invalid('metadata.name', name, rule.explain));
    }
  }
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (!isQualifiedName(key)) {
      causes.push(invalid('metadata.labels', key, qualifiedNameExplanation));
    }
    if (
      typeof value !== 'string' ||
      value.length > 63 ||
      !fullMatch(LABEL_VALUE, value)
    ) {
      causes.push(
        invalid(
          'metadata.labels',
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
      );
    }
  }
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (!isQualifiedName(key)) {
      causes.push(
        invalid('metadata.annotations', key, qualifiedNameExplanation),
      );
    }
    if (typeof value !== 'string') {
      causes.push(
        invalid(`metadata.annotations.${key}`, value, 'must be a string'),
      );
    }
  }
  return causes;
}

function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (
    name.length === 0 ||
    name.length > 63 ||
    !fullMatch(QUALIFIED_NAME, name)
  ) {
    return false;
  }
  return (
    parts.length === 1 || (parts[0].length > 0 && isDns1123Subdomain(parts[0]))
  );
}

/** The shape of an Ajv error as thrown by `@kubernetes-models` `validate()`. */
interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

function isSchemaErrorList(value: unknown): value is SchemaError[] {
  return (
    Array.isArray(value) &&
    value.every(
      e =>
        typeof e === 'object' &&
        e !== null &&
        'instancePath' in e &&
        'keyword' in e,
    )
  );
}

/** `/spec/ports/0/port` → `spec.ports[0].port`. */
function fieldPath(instancePath: string): string {
  let path = '';
  for (const raw of instancePath.split('/').filter(Boolean)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else path += path ? `.${segment}` : segment;
  }
  return path;
}

function valueAt(object: unknown, instancePath: string): unknown {
  let current = object;
  for (const raw of instancePath.split('/').filter(Boolean)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number')
    return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Translates schema errors into the wording of the apiextensions-apiserver's OpenAPI validation. */
export function schemaErrorsToCauses(
  errors: unknown,
  object: unknown,
): FieldCause[] {
  if (!isSchemaErrorList(errors)) return [];
  const causes: FieldCause[] = [];
  for (const error of errors) {
    const path = fieldPath(error.instancePath);
    const value = valueAt(object, error.instancePath);
    switch (error.keyword) {
      case 'required': {
        const field = [path, String(error.params.missingProperty)]
          .filter(Boolean)
          .join('.');
        causes.push({
          reason: 'FieldValueRequired',
          field,
          message: `${field}: Required value`,
        });
        break;
      }
      case 'type': {
        const actual = jsonTypeName(value);
        causes.push(
          invalid(
            path,
            actual,
            `${path} in body must be of type ${String(
              error.params.type,
            )}: "${actual}"`,
          ),
        );
        break;
      }
      case 'enum': {
        const allowed = (error.params.allowedValues as unknown[]) ?? [];
        causes.push({
          reason: 'FieldValueNotSupported',
          field: path,
          message: `${path}: Unsupported value: ${JSON.stringify(
            value,
          )}: supported values: ${allowed
            .map(v => JSON.stringify(v))
            .join(', ')}`,
        });
        break;
      }
      case 'pattern':
        causes.push(
          invalid(
            path,
            value,
            `${path} in body should match '${String(error.params.pattern)}'`,
          ),
        );
        break;
      default:
        causes.push(
          invalid(
            path,
            value,
            `${path} in body ${error.message ?? 'is invalid'}`,
          ),
        );
    }
  }
  return causes;
}
