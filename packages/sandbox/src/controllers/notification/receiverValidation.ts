import type { IncomingHttpHeaders } from 'node:http';
import { createHmac } from 'node:crypto';
import type { ReceiverSpec } from './receiver';
import {
  constantTimeEqual,
  validateGitHubPayload,
  validateHmacSignature,
} from './signatures';

export type ValidationOutcome =
  | { valid: true; ping?: boolean }
  | { valid: false; error: string };

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] ?? '' : value ?? '';
}

/** `spec.events`, when set, must list the event (case-insensitively). */
function eventAllowed(spec: ReceiverSpec, event: string): boolean {
  const events = spec.events ?? [];
  return (
    events.length === 0 ||
    events.some(e => e.toLowerCase() === event.toLowerCase())
  );
}

/** Go's json.Decoder into a struct: objects and null decode, anything else fails. */
function decodesAsObject(body: Buffer): string | undefined {
  try {
    const value = JSON.parse(body.toString('utf8'));
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      return `json: cannot unmarshal ${
        Array.isArray(value) ? 'array' : typeof value
      } into Go value of type server.payload`;
    }
    return undefined;
  } catch (error) {
    return body.length === 0 ? 'EOF' : (error as Error).message;
  }
}

const fail = (error: string): ValidationOutcome => ({ valid: false, error });
const VALID: ValidationOutcome = { valid: true };

/**
 * The receiver server's per-type request validation, with the error texts the
 * notification-controller logs. GCR (Google token introspection), CDEvents and generic-oidc
 * need services the sandbox does not have and are refused.
 */
export function validateReceiverRequest(
  spec: ReceiverSpec,
  headers: IncomingHttpHeaders,
  body: Buffer,
  token: string,
): ValidationOutcome {
  const type: string = spec.type;
  switch (type) {
    case 'generic':
      return VALID;
    case 'generic-hmac': {
      const error = validateHmacSignature(
        header(headers, 'X-Signature'),
        body,
        token,
      );
      return error
        ? fail(`unable to validate HMAC signature: ${error}`)
        : VALID;
    }
    case 'github': {
      const result = validateGitHubPayload(
        {
          signature256: header(headers, 'X-Hub-Signature-256'),
          signature: header(headers, 'X-Hub-Signature'),
          contentType: header(headers, 'Content-Type'),
        },
        body,
        token,
      );
      if ('error' in result) {
        return fail(
          `the GitHub signature header is invalid, err: ${result.error}`,
        );
      }
      const event = header(headers, 'X-GitHub-Event');
      if (event === 'ping') {
        return { valid: true, ping: true };
      }
      return eventAllowed(spec, event)
        ? VALID
        : fail(`the GitHub event '${event}' is not authorised`);
    }
    case 'gitlab': {
      if (!constantTimeEqual(header(headers, 'X-Gitlab-Token'), token)) {
        return fail(
          'the X-Gitlab-Token header value does not match the receiver token',
        );
      }
      const event = header(headers, 'X-Gitlab-Event');
      return eventAllowed(spec, event)
        ? VALID
        : fail(`the GitLab event '${event}' is not authorised`);
    }
    case 'bitbucket': {
      const result = validateGitHubPayload(
        {
          signature256: header(headers, 'X-Hub-Signature-256'),
          signature: header(headers, 'X-Hub-Signature'),
          contentType: header(headers, 'Content-Type'),
        },
        body,
        token,
      );
      if ('error' in result) {
        return fail(
          `the Bitbucket server signature header is invalid, err: ${result.error}`,
        );
      }
      const event = header(headers, 'X-Event-Key');
      return eventAllowed(spec, event)
        ? VALID
        : fail(`the Bitbucket server event '${event}' is not authorised`);
    }
    case 'harbor':
      return constantTimeEqual(header(headers, 'Authorization'), token)
        ? VALID
        : fail(
            'the Harbor Authorization header value does not match the receiver token',
          );
    case 'quay':
      return decodesAsObject(body) === undefined
        ? VALID
        : fail('cannot decode Quay webhook payload');
    case 'dockerhub':
      return decodesAsObject(body) === undefined
        ? VALID
        : fail('cannot decode DockerHub webhook payload');
    case 'acr': {
      const error = decodesAsObject(body);
      return error === undefined
        ? VALID
        : fail(`cannot decode ACR webhook payload: ${error}`);
    }
    case 'nexus': {
      const signature = header(headers, 'X-Nexus-Webhook-Signature');
      if (signature === '') {
        return fail('Nexus signature is missing from header');
      }
      const expected = createHmac('sha1', token).update(body).digest('hex');
      if (!constantTimeEqual(signature, expected)) {
        return fail('invalid Nexus signature');
      }
      const error = decodesAsObject(body);
      return error === undefined
        ? VALID
        : fail(`cannot decode Nexus webhook payload: ${error}`);
    }
    default:
      return fail(`receiver type '${type}' is not supported by the sandbox`);
  }
}
