// The Node authorizer (plugin/pkg/auth/authorizer/node), and users' own grants (as RBAC rules): a
// node may do what the system:node rules allow, and read Secrets and ConfigMaps, and ask for service account tokens, only where a pod
// bound to it refers to them (the graph of pods, nodes and the objects they use). Anything else
// is 403 Forbidden with the authorizer's wording.
import { forbidden } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import type { Identity, Verb } from './identity.ts';
import { configMapNames, secretNames } from './pod-references.ts';
import type { ResourceType } from './resource-types.ts';

export interface RequestAttributes {
  verb: Verb;
  type: ResourceType;
  subresource?: string;
  namespace?: string;
  /** The object's name; for list and watch, the one a metadata.name field selector names. */
  name?: string;
}

/** The system:node rules: resource (with /subresource) and the verbs allowed on it. */
const NODE_RULES: Record<string, Verb[]> = {
  services: ['get', 'list', 'watch'],
  endpoints: ['get'],
  nodes: ['create', 'get', 'list', 'watch', 'patch', 'update'],
  'nodes/status': ['patch', 'update'],
  events: ['create', 'update', 'patch'],
  pods: ['get', 'list', 'watch', 'create', 'delete'],
  'pods/status': ['update', 'patch'],
  'pods/eviction': ['create'],
  leases: ['get', 'create', 'update', 'patch', 'delete'],
  // The kubelet's webhook mode: who a caller of its port is, and what it may do there.
  tokenreviews: ['create'],
  subjectaccessreviews: ['create'],
};

/** Objects read only through the graph: a pod bound to the node refers to them. */
const GRAPH: Record<string, { verbs: Verb[]; referenced: (spec: Loose) => Set<string> }> = {
  secrets: { verbs: ['get', 'list', 'watch'], referenced: secretNames },
  configmaps: { verbs: ['get', 'list', 'watch'], referenced: configMapNames },
  'serviceaccounts/token': { verbs: ['create'], referenced: (spec) => new Set(spec.serviceAccountName ? [spec.serviceAccountName] : []) },
};

function denial(identity: Identity, a: RequestAttributes, why?: string): Error {
  const resource = a.subresource ? `${a.type.plural}/${a.subresource}` : a.type.plural;
  const scope = a.namespace !== undefined ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const text = `User "${identity.user}" cannot ${a.verb} resource "${resource}" in API group "${a.type.group}" ${scope}${why ? `: ${why}` : ''}`;
  return forbidden(a.type.plural, a.name ?? '', text);
}

/** Throws 403 unless `identity` may make the request; `podsOn` lists the pods bound to a node. */
export function authorize(identity: Identity, a: RequestAttributes, podsOn: (node: string) => ApiObject[]): void {
  if (identity.groups.includes('system:masters')) return;
  const resource = a.subresource ? `${a.type.plural}/${a.subresource}` : a.type.plural;
  if (identity.rules?.[resource]?.includes(a.verb)) return;
  const node = identity.node;
  if (node === undefined) throw denial(identity, a);
  const graph = GRAPH[resource];
  if (graph !== undefined) {
    if (!graph.verbs.includes(a.verb)) throw denial(identity, a);
    if (a.name === undefined || a.namespace === undefined) throw denial(identity, a, 'can only get individual resources of this type');
    const related = podsOn(node).some(
      (pod) => pod.metadata.namespace === a.namespace && graph.referenced((pod.spec ?? {}) as Loose).has(a.name!),
    );
    if (!related) throw denial(identity, a, `no relationship found between node '${node}' and this object`);
    return;
  }
  if (!(NODE_RULES[resource] ?? []).includes(a.verb)) throw denial(identity, a);
}
