import { ResourceType, StoreError } from './types';

/** A `StatusCause` of a Kubernetes Status (`details.causes`). */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** A StoreError whose Status also lists causes (422 field errors, 409 apply conflicts). */
export class StoreErrorWithCauses extends StoreError {
  constructor(
    code: number,
    reason: StoreError['reason'],
    message: string,
    details: StoreError['details'],
    readonly causes: StatusCause[],
  ) {
    super(code, reason, message, details);
  }
}

/** `gitrepositories.source.toolkit.fluxcd.io`, or `secrets` for the core group. */
export function qualifiedResource(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

/** `GitRepository.source.toolkit.fluxcd.io`, or `Secret` for the core group. */
export function qualifiedKind(type: ResourceType): string {
  return type.group ? `${type.kind}.${type.group}` : type.kind;
}

export function notFound(type: ResourceType, name: string): StoreError {
  return new StoreError(
    404,
    'NotFound',
    `${qualifiedResource(type)} "${name}" not found`,
    {
      name,
      group: type.group,
      kind: type.plural,
    },
  );
}

export function namespaceNotFound(namespace: string): StoreError {
  return new StoreError(
    404,
    'NotFound',
    `namespaces "${namespace}" not found`,
    {
      name: namespace,
      group: '',
      kind: 'namespaces',
    },
  );
}

export function alreadyExists(type: ResourceType, name: string): StoreError {
  return new StoreError(
    409,
    'AlreadyExists',
    `${qualifiedResource(type)} "${name}" already exists`,
    {
      name,
      group: type.group,
      kind: type.plural,
    },
  );
}

export function modifiedConflict(type: ResourceType, name: string): StoreError {
  return new StoreError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(
      type,
    )} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: type.group, kind: type.plural },
  );
}

export function invalidObject(
  type: ResourceType,
  name: string,
  detail: string,
  causes: StatusCause[],
): StoreError {
  return new StoreErrorWithCauses(
    422,
    'Invalid',
    `${qualifiedKind(type)} "${name}" is invalid: ${detail}`,
    { name, group: type.group, kind: type.kind },
    causes,
  );
}

export function unknownType(apiVersion: string, kind: string): StoreError {
  return new StoreError(
    404,
    'NotFound',
    `the server could not find the requested resource (no kind "${kind}" is registered for version "${apiVersion}")`,
  );
}
