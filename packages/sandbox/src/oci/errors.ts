/** A failure talking to an OCI registry; `code` is the registry's error code when it sent one. */
export class OciError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'OciError';
  }
}

/** The registry refused the credentials (401) or the access (403). */
export class OciAuthError extends OciError {
  constructor(message: string, status: number, code?: string) {
    super(message, status, code);
    this.name = 'OciAuthError';
  }
}

/** The repository, tag, manifest or blob does not exist. */
export class OciNotFoundError extends OciError {
  constructor(message: string, status: number, code?: string) {
    super(message, status, code);
    this.name = 'OciNotFoundError';
  }
}
