import { StoreError } from './types';

export type Verb =
  | 'get'
  | 'list'
  | 'watch'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'deletecollection';

/** An RBAC PolicyRule; `namespaces` narrows it the way a RoleBinding would. */
export interface PolicyRule {
  verbs: Array<Verb | '*'>;
  apiGroups: string[];
  /** Plural resource names, `plural/subresource`, or `*`. */
  resources: string[];
  resourceNames?: string[];
  /** Absent: cluster-wide (ClusterRoleBinding). Present: only these namespaces. */
  namespaces?: string[];
}

export interface TokenGrant {
  user: string;
  groups?: string[];
  rules: PolicyRule[];
}

export const CLUSTER_ADMIN_RULES: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
];

export interface RequestAttributes {
  verb: Verb;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Whether one rule allows the request: the RBAC authorizer's rule matching. */
export function ruleAllows(
  rule: PolicyRule,
  request: RequestAttributes,
): boolean {
  const resource = request.subresource
    ? `${request.resource}/${request.subresource}`
    : request.resource;
  const resourceMatches = rule.resources.some(
    r =>
      r === '*' ||
      r === resource ||
      (request.subresource !== undefined && r === `${request.resource}/*`),
  );
  return (
    (rule.verbs.includes('*') || rule.verbs.includes(request.verb)) &&
    (rule.apiGroups.includes('*') || rule.apiGroups.includes(request.group)) &&
    resourceMatches &&
    (rule.namespaces === undefined ||
      (request.namespace !== undefined &&
        rule.namespaces.includes(request.namespace))) &&
    (rule.resourceNames === undefined ||
      (request.name !== undefined && rule.resourceNames.includes(request.name)))
  );
}

/** Throws the 403 Forbidden StoreError, as `user`, when no rule allows the request. */
export function authorizeRules(
  user: string,
  rules: readonly PolicyRule[],
  request: RequestAttributes,
): void {
  if (!rules.some(rule => ruleAllows(rule, request)))
    throw forbidden(user, request);
}

/**
 * The namespace RBAC sees for an object: for a Namespace itself its own name (as the API
 * server's RequestInfo has it), for other cluster-scoped kinds none.
 */
export function rbacNamespace(
  type: { group: string; kind: string; namespaced: boolean },
  namespace: string | undefined,
  name: string | undefined,
): string | undefined {
  if (type.group === '' && type.kind === 'Namespace') return name;
  return type.namespaced ? namespace : undefined;
}

/** The 403 of the RBAC authorizer, message shape as the real API server words it. */
export function forbidden(
  user: string,
  request: RequestAttributes,
): StoreError {
  const resource = request.subresource
    ? `${request.resource}/${request.subresource}`
    : request.resource;
  const scope = request.namespace
    ? `in the namespace "${request.namespace}"`
    : 'at the cluster scope';
  const qualified = request.group
    ? `${request.resource}.${request.group}`
    : request.resource;
  const subject = request.name ? `${qualified} "${request.name}"` : qualified;
  return new StoreError(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${user}" cannot ${request.verb} resource "${resource}" in API group "${request.group}" ${scope}`,
    {
      ...(request.name ? { name: request.name } : {}),
      group: request.group,
      kind: request.resource,
    },
  );
}

/** Bearer tokens and what they may do; changeable while the server runs. */
export class TokenAuthorizer {
  private readonly grants = new Map<string, TokenGrant>();

  constructor(initial: Record<string, TokenGrant> = {}) {
    Object.entries(initial).forEach(([token, grant]) =>
      this.grants.set(token, grant),
    );
  }

  addToken(token: string, grant: TokenGrant): void {
    this.grants.set(token, grant);
  }

  removeToken(token: string): void {
    this.grants.delete(token);
  }

  /** The grant of an `Authorization: Bearer` header, or undefined (401). */
  authenticate(authorization: string | undefined): TokenGrant | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return match ? this.grants.get(match[1]) : undefined;
  }

  /** Throws the 403 Forbidden StoreError when no rule allows the request. */
  authorize(grant: TokenGrant, request: RequestAttributes): void {
    authorizeRules(grant.user, grant.rules, request);
  }
}
