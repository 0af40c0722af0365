// Who a bearer token is: the cluster admin (system:masters), a node (system:node:NAME in
// system:nodes), whom the Node authorizer and NodeRestriction hold to what a kubelet may do, or a
// user with grants of its own.
export interface Identity {
  user: string;
  groups: string[];
  /** The node's name, for a node's credentials. */
  node?: string;
  /** What a user of its own is granted, as an RBAC role would: resource or resource/subresource → verbs. */
  rules?: Record<string, Verb[]>;
}

export const ADMIN: Identity = { user: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

export const nodeIdentity = (node: string): Identity => ({
  user: `system:node:${node}`,
  groups: ['system:nodes', 'system:authenticated'],
  node,
});

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
