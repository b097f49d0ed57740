import { parseAllDocuments } from 'yaml';
import { PolicyRule, Verb } from './authorization';

/** A ServiceAccount, as a binding's subject names it. */
export interface ServiceAccountRef {
  name: string;
  namespace: string;
}

interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}

interface RbacDocument {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: RbacRule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
}

/**
 * The rules a ServiceAccount holds under the given RBAC manifests (multi-document YAML),
 * as the real authorizer would combine them: a ClusterRoleBinding grants its ClusterRole
 * everywhere, a RoleBinding grants its Role or ClusterRole in the binding's namespace
 * only. Roles nobody binds to the account grant nothing; an unknown role is an error,
 * so a typo in the manifests cannot pass unnoticed.
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
  const roles = new Map<string, RbacRule[]>();
  for (const document of documents) {
    if (document.kind === 'ClusterRole' || document.kind === 'Role') {
      roles.set(
        roleKey(
          document.kind,
          document.metadata?.name,
          document.metadata?.namespace,
        ),
        document.rules ?? [],
      );
    }
  }
  const rules: PolicyRule[] = [];
  for (const binding of documents) {
    if (
      binding.kind !== 'ClusterRoleBinding' &&
      binding.kind !== 'RoleBinding'
    ) {
      continue;
    }
    const bound = binding.subjects?.some(
      subject =>
        subject.kind === 'ServiceAccount' &&
        subject.name === account.name &&
        subject.namespace === account.namespace,
    );
    if (!bound) continue;
    const namespace =
      binding.kind === 'RoleBinding' ? binding.metadata?.namespace : undefined;
    // A RoleBinding's Role lives in the binding's namespace.
    const key = roleKey(
      binding.roleRef?.kind ?? '',
      binding.roleRef?.name,
      namespace,
    );
    const granted = roles.get(key);
    if (!granted) {
      throw new Error(
        `RBAC manifests: ${binding.kind} ${binding.metadata?.name} refers to ${key}, which they do not define`,
      );
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

function roleKey(kind: string, name?: string, namespace?: string): string {
  return kind === 'Role' ? `Role ${namespace}/${name}` : `ClusterRole ${name}`;
}
