/** An object on a cluster, as ownership is recorded for it. */
export interface OwnedObjectKey {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}

/** One string per object, to compare sets of them. */
export const ownedObjectKey = (o: OwnedObjectKey) =>
  [o.cluster, o.kind, o.namespace, o.name].join('\n');

/** The ownership key of an object as the cache holds it. */
export const ownedKeyOf = (object: {
  cluster: string;
  kind: string;
  metadata: { namespace: string; name: string };
}): OwnedObjectKey => ({
  cluster: object.cluster,
  kind: object.kind,
  namespace: object.metadata.namespace,
  name: object.metadata.name,
});

export interface ObjectOwner extends OwnedObjectKey {
  entityRef: string;
  createdBy: string;
  createdAt: string;
}

/** Which entity each object the backend created belongs to. */
export interface ObjectOwnerStore {
  /**
   * Records `entityRef` as the owner of every object, all or nothing: when one already
   * belongs to another entity, nothing is recorded and those owners are returned as
   * `conflicts`. `claimed` lists the objects newly recorded by this call.
   */
  claim(
    objects: OwnedObjectKey[],
    owner: { entityRef: string; createdBy: string },
  ): Promise<{ conflicts: ObjectOwner[]; claimed: OwnedObjectKey[] }>;
  /** Forgets the owner of these objects, if it is `entityRef`. */
  release(objects: OwnedObjectKey[], entityRef: string): Promise<void>;
  /** The recorded owners of these objects (those without one are left out). */
  ownersOf(objects: OwnedObjectKey[]): Promise<ObjectOwner[]>;
}
