import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Compares two secrets in constant time, whatever their lengths (by comparing digests). */
export function constantTimeEqual(
  a: string | Buffer,
  b: string | Buffer,
): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB);
}

/** Go's hex.DecodeString, with its error messages. */
function decodeHex(value: string): { bytes: Buffer } | { error: string } {
  for (let i = 0; i < value.length; i++) {
    if (!/[0-9a-fA-F]/.test(value[i])) {
      const codePoint = value.codePointAt(i)!;
      const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
      return {
        error: `encoding/hex: invalid byte: U+${hex} '${String.fromCodePoint(
          codePoint,
        )}'`,
      };
    }
  }
  if (value.length % 2 === 1) {
    return { error: 'encoding/hex: odd length hex string' };
  }
  return { bytes: Buffer.from(value, 'hex') };
}

const HMAC_ALGORITHMS: Record<string, string> = {
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
};

/**
 * go-github's ValidateSignature: `<algo>=<hex HMAC(payload, secret)>` with sha1, sha256 or
 * sha512. Returns the error text, or undefined when the signature is valid.
 */
export function validateHmacSignature(
  signature: string,
  payload: Buffer,
  secret: string,
): string | undefined {
  if (signature === '') {
    return 'missing signature';
  }
  const separator = signature.indexOf('=');
  if (separator === -1) {
    return `error parsing signature ${JSON.stringify(signature)}`;
  }
  const algorithm = HMAC_ALGORITHMS[signature.slice(0, separator)];
  if (!algorithm) {
    return `unknown hash type prefix: ${JSON.stringify(
      signature.slice(0, separator),
    )}`;
  }
  const decoded = decodeHex(signature.slice(separator + 1));
  if ('error' in decoded) {
    return `error decoding signature ${JSON.stringify(signature)}: ${
      decoded.error
    }`;
  }
  const expected = createHmac(algorithm, secret).update(payload).digest();
  return constantTimeEqual(decoded.bytes, expected)
    ? undefined
    : 'payload signature check failed';
}

/** Go's mime.ParseMediaType, reduced to the media type and its two commonest errors. */
function parseMediaType(
  contentType: string,
): { mediaType: string } | { error: string } {
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (mediaType === '') {
    return { error: 'mime: no media type' };
  }
  if (!mediaType.includes('/')) {
    return { error: 'mime: expected slash after first token' };
  }
  return { mediaType };
}

/**
 * go-github's ValidatePayload as GitHub and Bitbucket Server receivers use it: the signature
 * from `X-Hub-Signature-256` (else `X-Hub-Signature`), JSON or form-encoded bodies.
 */
export function validateGitHubPayload(
  headers: { signature256?: string; signature?: string; contentType?: string },
  body: Buffer,
  secret: string,
): { payload: Buffer } | { error: string } {
  const signature = headers.signature256 || headers.signature || '';
  const media = parseMediaType(headers.contentType ?? '');
  if ('error' in media) {
    return media;
  }
  let payload: Buffer;
  if (media.mediaType === 'application/json') {
    payload = body;
  } else if (media.mediaType === 'application/x-www-form-urlencoded') {
    payload = Buffer.from(
      new URLSearchParams(body.toString('utf8')).get('payload') ?? '',
    );
  } else {
    return {
      error: `webhook request has unsupported Content-Type ${JSON.stringify(
        media.mediaType,
      )}`,
    };
  }
  if (secret.length > 0 || signature.length > 0) {
    const error = validateHmacSignature(signature, body, secret);
    if (error) {
      return { error };
    }
  }
  return { payload };
}
