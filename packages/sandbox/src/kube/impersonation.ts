import {
  authorizeRules,
  rbacNamespace,
  type PolicyRule,
  type RequestAttributes,
  type Verb,
} from './authorization';
import { unknownType } from './errors';
import { rulesFromStore, type RbacIdentity } from './rbac';
import type { ClusterStore, KubeObject, ResourceType, TypeRef } from './types';

/**
 * The store as a client with `Impersonate-User` set sees it: every write is authorized
 * for `identity` by the RBAC objects stored in the cluster (Roles, ClusterRoles and their
 * bindings, read at the time of the write), and refused with the API server's 403
 * otherwise. Server-side apply needs `patch`, and `create` too when the object does not
 * exist yet, in that order, as the API server checks them. Reads are passed through: the
 * sandbox authorizes what a tenant changes, not what it looks at.
 */
export function impersonate(
  store: ClusterStore,
  identity: RbacIdentity,
): ClusterStore {
  let cached: { resourceVersion: string; rules: PolicyRule[] } | undefined;
  const rules = (): PolicyRule[] => {
    const resourceVersion = store.currentResourceVersion();
    if (cached?.resourceVersion !== resourceVersion) {
      cached = { resourceVersion, rules: rulesFromStore(store, identity) };
    }
    return cached.rules;
  };
  const typeOf = (ref: TypeRef): ResourceType => {
    const type = store.findType(ref);
    if (!type) throw unknownType(ref.apiVersion, ref.kind);
    return type;
  };
  const authorize = (
    verb: Verb,
    ref: TypeRef,
    namespace: string | undefined,
    name: string | undefined,
    subresource?: string,
  ): void => {
    const type = typeOf(ref);
    const request: RequestAttributes = {
      verb,
      group: type.group,
      resource: type.plural,
      ...(subresource ? { subresource } : {}),
      namespace: rbacNamespace(type, namespace, name),
      ...(name ? { name } : {}),
    };
    authorizeRules(identity.user, rules(), request);
  };
  const namespaceOf = (object: KubeObject) => object.metadata.namespace;

  return {
    clusterName: store.clusterName,
    types: () => store.types(),
    findType: ref => store.findType(ref),
    get: (ref, namespace, name) => store.get(ref, namespace, name),
    list: (ref, options) => store.list(ref, options),
    watch: (ref, options, listener) => store.watch(ref, options, listener),
    currentResourceVersion: () => store.currentResourceVersion(),

    create(object, ...rest) {
      authorize('create', object, namespaceOf(object), undefined);
      return (store.create as (...args: unknown[]) => KubeObject)(
        object,
        ...rest,
      );
    },
    update(object, options, ...rest) {
      authorize(
        'update',
        object,
        namespaceOf(object),
        object.metadata.name,
        options?.subresource,
      );
      return (store.update as (...args: unknown[]) => KubeObject)(
        object,
        options,
        ...rest,
      );
    },
    mergePatch(ref, namespace, name, patch, options, ...rest) {
      authorize('patch', ref, namespace, name, options?.subresource);
      return (store.mergePatch as (...args: unknown[]) => KubeObject)(
        ref,
        namespace,
        name,
        patch,
        options,
        ...rest,
      );
    },
    apply(object, options) {
      const { name } = object.metadata;
      authorize(
        'patch',
        object,
        namespaceOf(object),
        name,
        options.subresource,
      );
      if (!store.get(object, namespaceOf(object), name)) {
        authorize('create', object, namespaceOf(object), name);
      }
      return store.apply(object, options);
    },
    delete(ref, namespace, name, ...rest) {
      authorize('delete', ref, namespace, name);
      return (store.delete as (...args: unknown[]) => KubeObject)(
        ref,
        namespace,
        name,
        ...rest,
      );
    },
  };
}
