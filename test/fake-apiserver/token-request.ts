// serviceaccounts/{name}/token: a TokenRequest answered with a new token each time (a JWT whose
// signature is not worth checking), bound to a pod that must exist with that UID and account.
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError, notFound } from './api-error.ts';
import { type ApiObject, type Loose, now } from './api-object.ts';

export function answerTokenRequest(
  namespace: string,
  name: string,
  body: unknown,
  lookup: (plural: string, namespace: string, name: string) => ApiObject | undefined,
): ApiObject {
  const account = lookup('serviceaccounts', namespace, name);
  if (account === undefined) throw notFound('serviceaccounts', name);
  const spec = { ...(((body ?? {}) as Loose).spec ?? {}) } as Loose;
  const invalid = (field: string, value: unknown, detail: string) =>
    new ApiError(
      422,
      'Invalid',
      `TokenRequest.authentication.k8s.io "${name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`,
    );
  spec.expirationSeconds ??= 3600;
  if (spec.expirationSeconds < 600)
    throw invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 10 minutes');
  if (spec.expirationSeconds > 2 ** 32)
    throw invalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration larger than 2^32 seconds');
  if (!spec.audiences || spec.audiences.length === 0) spec.audiences = ['https://kubernetes.default.svc.cluster.local'];
  const ref = spec.boundObjectRef as Loose | undefined;
  let podClaim: Record<string, string> | undefined;
  if (ref !== undefined) {
    if (ref.kind !== 'Pod') throw new ApiError(400, 'BadRequest', `cannot bind token to object of type ${ref.kind}`);
    const pod = lookup('pods', namespace, ref.name ?? '');
    if (pod === undefined) throw notFound('pods', ref.name ?? '');
    if (ref.uid && ref.uid !== pod.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    if ((pod.spec as Loose | undefined)?.serviceAccountName !== name)
      throw new ApiError(
        400,
        'BadRequest',
        `cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`,
      );
    podClaim = { name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
  }
  const issuedAt = Math.floor(Date.now() / 1000);
  const exp = issuedAt + spec.expirationSeconds;
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = {
    aud: spec.audiences,
    exp,
    iat: issuedAt,
    iss: 'https://kubernetes.default.svc.cluster.local',
    jti: randomUUID(),
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io': { namespace, serviceaccount: { name, uid: account.metadata.uid }, ...(podClaim ? { pod: podClaim } : {}) },
  };
  const token = `${part({ alg: 'RS256', kid: 'fake' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    metadata: { name, namespace, creationTimestamp: now() },
    spec,
    status: { token, expirationTimestamp: now(exp * 1000) },
  };
}
