import { IncomingMessage } from 'node:http';
import { TokenGrant, ruleAllows, Verb } from './authorization';
import { readBody, StatusError } from './handlers';
import { failureStatus } from './status';

export const SELF_SUBJECT_ACCESS_REVIEW_PATH =
  '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

interface Review {
  spec?: {
    resourceAttributes?: Record<string, string | undefined>;
    nonResourceAttributes?: { path?: string; verb?: string };
  };
}

const PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** The length-delimited fields of a protobuf message, by field number (others skipped). */
function protobufFields(bytes: Buffer): Map<number, Buffer> {
  const fields = new Map<number, Buffer>();
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Error('truncated');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const wireType = key % 8;
    const field = Math.floor(key / 8);
    if (wireType === 2) {
      const length = varint();
      fields.set(field, bytes.subarray(at, at + length));
      at += length;
    } else if (wireType === 0) {
      varint();
    } else if (wireType === 1) {
      at += 8;
    } else if (wireType === 5) {
      at += 4;
    } else {
      throw new Error(`wire type ${wireType}`);
    }
  }
  return fields;
}

/**
 * A SelfSubjectAccessReview as kubectl sends it, in Kubernetes' protobuf envelope (`k8s\0`,
 * then a runtime.Unknown whose field 2 is the object): spec (2) → resourceAttributes (1)
 * with namespace, verb, group, version, resource, subresource, name (1–7).
 */
function reviewOfProtobuf(body: Buffer): Review {
  if (body.subarray(0, 4).toString('latin1') !== 'k8s\0') {
    throw new Error('not the Kubernetes protobuf envelope');
  }
  const object = protobufFields(body.subarray(4)).get(2);
  const spec = object && protobufFields(object).get(2);
  const resource = spec && protobufFields(spec).get(1);
  if (!resource) return { spec: spec ? {} : undefined };
  const attributes = protobufFields(resource);
  const text = (field: number) => attributes.get(field)?.toString('utf8');
  return {
    spec: {
      resourceAttributes: {
        namespace: text(1),
        verb: text(2),
        group: text(3),
        version: text(4),
        resource: text(5),
        subresource: text(6),
        name: text(7),
      },
    },
  };
}

/**
 * `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, what `kubectl auth
 * can-i` asks: whether the caller's own grant allows a request, answered by the same
 * RBAC rule matching that guards every other request. Nothing is stored.
 */
export async function selfSubjectAccessReview(
  req: IncomingMessage,
  grant: TokenGrant,
  maxBodyBytes: number,
): Promise<object> {
  const body = await readBody(req, maxBodyBytes);
  let review: Review;
  try {
    review = String(req.headers['content-type']).startsWith(PROTOBUF)
      ? reviewOfProtobuf(body)
      : JSON.parse(body.toString('utf8'));
  } catch {
    throw new StatusError(
      failureStatus(400, 'the body is not a SelfSubjectAccessReview'),
    );
  }
  const attributes = review.spec?.resourceAttributes;
  let allowed = false;
  if (attributes) {
    const verb = attributes.verb ?? '';
    allowed = grant.rules.some(rule =>
      ruleAllows(rule, {
        // `*` (every verb) matches only a rule that grants every verb.
        verb: verb as Verb,
        group: attributes.group ?? '',
        resource: attributes.resource ?? '',
        subresource: attributes.subresource || undefined,
        namespace: attributes.namespace || undefined,
        name: attributes.name || undefined,
      }),
    );
  } else if (!review.spec?.nonResourceAttributes) {
    throw new StatusError(
      failureStatus(
        422,
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: one of resourceAttributes and nonResourceAttributes must be specified',
        'Invalid',
      ),
    );
  }
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: review.spec,
    status: allowed
      ? { allowed: true, reason: `RBAC: allowed by a rule of ${grant.user}` }
      : { allowed: false },
  };
}
