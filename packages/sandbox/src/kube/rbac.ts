import { parseAllDocuments } from 'yaml';
import { PolicyRule, Verb } from './authorization';
import { BOOTSTRAP_RBAC } from './bootstrapRbac';
import type { ClusterStore, KubeObject } from './types';

/** A ServiceAccount, as a binding's subject names it. */
export interface ServiceAccountRef {
  name: string;
  namespace: string;
}

/** Who the RBAC authorizer evaluates: a user name and its groups. */
export interface RbacIdentity {
  user: string;
  groups: string[];
}

interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}

interface RbacSubject {
  kind?: string;
  name?: string;
  namespace?: string;
}

interface RbacDocument {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: RbacRule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: RbacSubject[];
}

const RBAC_API_VERSION = 'rbac.authorization.k8s.io/v1';

/**
 * The identity the API server gives a ServiceAccount (its token, or impersonating it):
 * `system:serviceaccount:<ns>:<name>` in the groups `system:serviceaccounts`,
 * `system:serviceaccounts:<ns>` and `system:authenticated`.
 */
export function serviceAccountIdentity(
  account: ServiceAccountRef,
): RbacIdentity {
  return {
    user: `system:serviceaccount:${account.namespace}:${account.name}`,
    groups: [
      'system:serviceaccounts',
      `system:serviceaccounts:${account.namespace}`,
      'system:authenticated',
    ],
  };
}

/** rbac/validation appliesToUser: a ServiceAccount subject defaults to the binding's namespace. */
function appliesTo(
  subject: RbacSubject,
  identity: RbacIdentity,
  bindingNamespace: string | undefined,
): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === identity.user;
    case 'Group':
      return (
        subject.name !== undefined && identity.groups.includes(subject.name)
      );
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace;
      return (
        namespace !== undefined &&
        identity.user === `system:serviceaccount:${namespace}:${subject.name}`
      );
    }
    default:
      return false;
  }
}

function roleKey(kind: string, name?: string, namespace?: string): string {
  return kind === 'Role' ? `Role ${namespace}/${name}` : `ClusterRole ${name}`;
}

/**
 * The rules `identity` holds under the given RBAC objects, as the real authorizer combines
 * them: a ClusterRoleBinding grants its ClusterRole everywhere, a RoleBinding grants its
 * Role or ClusterRole in the binding's namespace only. Roles nobody binds grant nothing.
 * A binding to a role the objects do not define grants nothing (as on a cluster), or, with
 * `onMissingRole`, is reported through it.
 */
export function rulesForIdentity(
  objects: readonly RbacDocument[],
  identity: RbacIdentity,
  onMissingRole?: (binding: RbacDocument, key: string) => void,
): PolicyRule[] {
  const roles = new Map<string, RbacRule[]>();
  for (const object of objects) {
    if (object.kind === 'ClusterRole' || object.kind === 'Role') {
      roles.set(
        roleKey(object.kind, object.metadata?.name, object.metadata?.namespace),
        object.rules ?? [],
      );
    }
  }
  const rules: PolicyRule[] = [];
  for (const binding of objects) {
    if (
      binding.kind !== 'ClusterRoleBinding' &&
      binding.kind !== 'RoleBinding'
    ) {
      continue;
    }
    const namespace =
      binding.kind === 'RoleBinding' ? binding.metadata?.namespace : undefined;
    const bound = binding.subjects?.some(subject =>
      appliesTo(subject, identity, namespace),
    );
    if (!bound) continue;
    // A RoleBinding's Role lives in the binding's namespace.
    const key = roleKey(
      binding.roleRef?.kind ?? '',
      binding.roleRef?.name,
      namespace,
    );
    const granted = roles.get(key);
    if (!granted) {
      onMissingRole?.(binding, key);
      continue;
    }
    for (const rule of granted) {
      rules.push({
        verbs: (rule.verbs ?? []) as Array<Verb | '*'>,
        apiGroups: rule.apiGroups ?? [],
        resources: rule.resources ?? [],
        ...(rule.resourceNames && { resourceNames: rule.resourceNames }),
        ...(namespace !== undefined && { namespaces: [namespace] }),
      });
    }
  }
  return rules;
}

/**
 * The rules a ServiceAccount holds under the given RBAC manifests (multi-document YAML)
 * on a cluster that also has the bootstrap ClusterRoles (`cluster-admin`, `admin`, `edit`,
 * `view`). A binding of the account to a role neither defines is an error, so a typo in
 * the manifests cannot pass unnoticed.
 */
export function rulesForServiceAccount(
  manifests: string,
  account: ServiceAccountRef,
): PolicyRule[] {
  const documents = parseAllDocuments(manifests).map(document => {
    if (document.errors.length) {
      throw new Error(`RBAC manifests: ${document.errors[0].message}`);
    }
    return (document.toJS() ?? {}) as RbacDocument;
  });
  return rulesForIdentity(
    [...BOOTSTRAP_RBAC, ...documents],
    serviceAccountIdentity(account),
    (binding, key) => {
      throw new Error(
        `RBAC manifests: ${binding.kind} ${binding.metadata?.name} refers to ${key}, which they do not define`,
      );
    },
  );
}

/** The rules `identity` holds under the RBAC objects stored in the cluster. */
export function rulesFromStore(
  store: ClusterStore,
  identity: RbacIdentity,
): PolicyRule[] {
  const objects: KubeObject[] = [];
  for (const kind of [
    'ClusterRole',
    'Role',
    'ClusterRoleBinding',
    'RoleBinding',
  ]) {
    const type = { apiVersion: RBAC_API_VERSION, kind };
    if (store.findType(type)) objects.push(...store.list(type).items);
  }
  return rulesForIdentity(objects as RbacDocument[], identity);
}
