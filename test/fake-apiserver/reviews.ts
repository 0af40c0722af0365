// TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1), what a
// kubelet in webhook mode asks: who a bearer token is (authenticated, user, audiences; an unknown
// token or one for other audiences is not authenticated, with an error), and whether a user with
// its groups may do something (allowed, with the reason of a denial). Neither is stored.
import { ApiError } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import type { Identity, Verb } from './identity.ts';
import type { ResourceType } from './resource-types.ts';

/** The audience of the fake's own tokens, as the API server's --api-audiences defaults to its issuer. */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

const reviewType = (plural: string, kind: string, group: string): ResourceType => ({
  plural,
  singular: kind.toLowerCase(),
  kind,
  group,
  version: 'v1',
  namespaced: false,
  shortNames: [],
  subresources: [],
  fields: () => ({}),
});

export const REVIEW_TYPES: Record<string, ResourceType> = {
  '/apis/authentication.k8s.io/v1/tokenreviews': reviewType('tokenreviews', 'TokenReview', 'authentication.k8s.io'),
  '/apis/authorization.k8s.io/v1/subjectaccessreviews': reviewType('subjectaccessreviews', 'SubjectAccessReview', 'authorization.k8s.io'),
};

function answer(kind: string, group: string, spec: Loose, status: Loose): ApiObject {
  return { apiVersion: `${group}/v1`, kind, metadata: { creationTimestamp: null }, spec, status } as unknown as ApiObject;
}

export function answerTokenReview(body: unknown, identityOf: (token: string) => Identity | undefined): ApiObject {
  const spec = ((body ?? {}) as Loose).spec ?? {};
  if (!spec.token) throw new ApiError(400, 'BadRequest', 'token is required for TokenReview in authentication');
  const wanted: string[] = spec.audiences?.length ? spec.audiences : [API_AUDIENCE];
  const identity = identityOf(spec.token);
  const reply = (status: Loose) => answer('TokenReview', 'authentication.k8s.io', spec, status);
  if (identity === undefined) return reply({ user: {}, error: '[invalid bearer token, token lookup failed]' });
  if (!wanted.includes(API_AUDIENCE))
    return reply({ user: {}, error: `token audiences ["${API_AUDIENCE}"] is invalid for the target audiences ${JSON.stringify(wanted)}` });
  return reply({ authenticated: true, user: { username: identity.user, groups: identity.groups }, audiences: [API_AUDIENCE] });
}

/**
 * `decide` throws a 403 ApiError unless `identity` may make the request; `identityOf` gives the
 * user's grants by name (the review names the user and groups; the grants are the server's).
 */
export function answerSubjectAccessReview(
  body: unknown,
  identityOf: (user: string, groups: string[]) => Identity,
  decide: (
    identity: Identity,
    a: { verb: Verb; group: string; resource: string; subresource?: string; namespace?: string; name?: string },
  ) => void,
): ApiObject {
  const spec = ((body ?? {}) as Loose).spec ?? {};
  const invalid = (field: string, detail: string) =>
    new ApiError(422, 'Invalid', `SubjectAccessReview.authorization.k8s.io "" is invalid: ${field}: Invalid value: ${detail}`);
  const resource = spec.resourceAttributes as Loose | undefined;
  const nonResource = spec.nonResourceAttributes as Loose | undefined;
  if ((resource === undefined) === (nonResource === undefined))
    throw invalid('spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes must be specified');
  if (!spec.user && !(spec.groups ?? []).length) throw invalid('spec.user', '"": at least one of user or group must be specified');
  const identity = identityOf(spec.user ?? '', spec.groups ?? []);
  const reply = (status: Loose) => answer('SubjectAccessReview', 'authorization.k8s.io', spec, status);
  if (nonResource !== undefined) {
    // No non-resource rules here but the cluster admin's.
    return reply(identity.groups.includes('system:masters') ? { allowed: true } : { allowed: false });
  }
  try {
    decide(identity, {
      verb: resource!.verb,
      group: resource!.group ?? '',
      resource: resource!.resource ?? '',
      ...(resource!.subresource ? { subresource: resource!.subresource } : {}),
      ...(resource!.namespace ? { namespace: resource!.namespace } : {}),
      ...(resource!.name ? { name: resource!.name } : {}),
    });
    return reply({ allowed: true });
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 403) throw e;
    return reply({ allowed: false, reason: e.message });
  }
}
