import { objectKey } from './runtime';

/**
 * Failures a test or a demo can inject into the simulated Flux controllers. Nothing is
 * triggered by setting a fault: it applies from the next reconciliation on (request one
 * with the `reconcile.fluxcd.io/requestedAt` annotation to see it at once).
 */
export class FluxFaults {
  private readonly sourceFetchFailures = new Map<string, string>();
  private readonly applyFailures = new Map<string, string>();
  private reconcileDuration = 0;

  /**
   * Makes fetching a source fail with `message` until cleared with `undefined`: the
   * source reports it the way a real fetch failure looks (GitRepository:
   * `FetchFailed`/`GitOperationFailed`; OCIRepository: `OCIArtifactPullFailed`; Bucket:
   * `BucketOperationFailed`; HelmRepository: `Failed`).
   */
  failSourceFetch(
    kind: 'GitRepository' | 'OCIRepository' | 'Bucket' | 'HelmRepository',
    namespace: string,
    name: string,
    message: string | undefined,
  ): void {
    setOrClear(
      this.sourceFetchFailures,
      `${kind}:${objectKey(namespace, name)}`,
      message,
    );
  }

  /**
   * Makes applying the manifests of the Kustomization (or HelmRelease) `namespace/name`
   * fail with `message` until cleared with `undefined`: it ends `Ready=False` with reason
   * `ReconciliationFailed` (HelmRelease: `InstallFailed`/`UpgradeFailed`).
   */
  failApply(
    namespace: string,
    name: string,
    message: string | undefined,
  ): void {
    setOrClear(this.applyFailures, objectKey(namespace, name), message);
  }

  /**
   * Every reconciliation takes at least `ms` between `Reconciling=True` and its final
   * status, so that the in-progress state can be observed. 0 turns it off.
   */
  setReconcileDuration(ms: number): void {
    this.reconcileDuration = Math.max(0, ms);
  }

  sourceFetchFailure(
    kind: string,
    namespace: string | undefined,
    name: string,
  ): string | undefined {
    return this.sourceFetchFailures.get(
      `${kind}:${objectKey(namespace, name)}`,
    );
  }

  applyFailure(
    namespace: string | undefined,
    name: string,
  ): string | undefined {
    return this.applyFailures.get(objectKey(namespace, name));
  }

  reconcileDurationMs(): number {
    return this.reconcileDuration;
  }
}

function setOrClear(
  map: Map<string, string>,
  key: string,
  message: string | undefined,
) {
  if (message === undefined) {
    map.delete(key);
  } else {
    map.set(key, message);
  }
}
