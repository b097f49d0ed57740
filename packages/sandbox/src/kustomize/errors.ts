/** A `kustomize build` failure; the message reads like kustomize's own. */
export class KustomizeBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KustomizeBuildError';
  }
}

/** Prefixes the message of a KustomizeBuildError the way kustomize wraps errors ("context: cause"). */
export function wrapBuildError(
  context: string,
  error: unknown,
): KustomizeBuildError {
  const message = error instanceof Error ? error.message : String(error);
  return new KustomizeBuildError(`${context}: ${message}`);
}
