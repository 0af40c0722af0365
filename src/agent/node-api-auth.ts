// Who may call the node API, as the kubelet decides it: an authenticator names the caller (client
// certificate, the root-only socket, anonymous when allowed), then an authorizer decides on the
// request's attributes (verb, resource `nodes`, subresource by path: proxy, log, stats, metrics, …).
// Both are interfaces: the kubelet's webhook mode (TokenReview for bearer tokens,
// SubjectAccessReview for decisions, node-api-webhook.ts) is one more of each.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface NodeApiUser {
  name: string;
  groups: string[];
}

/** Names the caller of a request; undefined when this authenticator finds no credentials it knows. */
export interface NodeApiAuthenticator {
  authenticate(req: IncomingMessage): Promise<NodeApiUser | undefined>;
}

/** The attributes the kubelet authorizes a request on (its `GetRequestAttributes`). */
export interface NodeApiRequestAttributes {
  user: NodeApiUser;
  verb: string;
  resource: 'nodes';
  subresource: string;
  /** The node's name. */
  name: string;
  path: string;
}

export interface NodeApiDecision {
  allowed: boolean;
  reason?: string;
}

export interface NodeApiAuthorizer {
  authorize(attributes: NodeApiRequestAttributes): Promise<NodeApiDecision>;
}

/** How one listener checks its callers. */
export interface NodeApiAccess {
  authenticator: NodeApiAuthenticator;
  authorizer: NodeApiAuthorizer;
}

export const ANONYMOUS_USER: NodeApiUser = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The caller on the node's unix socket: only root can open it (mode 0600), so it is the node's administrator. */
export const SOCKET_USER: NodeApiUser = { name: 'berth:node-socket', groups: ['system:masters', 'system:authenticated'] };

/** The first authenticator that names the caller wins, in order. */
export function unionAuthenticator(...authenticators: NodeApiAuthenticator[]): NodeApiAuthenticator {
  return {
    async authenticate(req) {
      for (const a of authenticators) {
        const user = await a.authenticate(req);
        if (user !== undefined) return user;
      }
      return undefined;
    },
  };
}

/** Every request as `user` (the root-only socket). */
export function fixedUser(user: NodeApiUser): NodeApiAuthenticator {
  return { authenticate: async () => user };
}

/** Callers without credentials, as the kubelet's --anonymous-auth=true makes them. */
export const anonymousAuthenticator: NodeApiAuthenticator = fixedUser(ANONYMOUS_USER);

/**
 * A client certificate that the TLS handshake verified against the client CA: the user is its
 * common name, the groups its organizations (as Kubernetes reads X.509 client certificates).
 * The server asks for certificates without requiring them, so that other authenticators get the
 * requests that come without one.
 */
export const x509Authenticator: NodeApiAuthenticator = {
  async authenticate(req) {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
    const subject = socket.getPeerCertificate().subject;
    const cn = subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (!name) return undefined;
    const o = subject.O;
    const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
    return { name, groups: [...groups, 'system:authenticated'] };
  },
};

/** The kubelet's --authorization-mode=AlwaysAllow. */
export const alwaysAllow: NodeApiAuthorizer = { authorize: async () => ({ allowed: true }) };

/** The root-only socket's: its caller is root, who may do anything. */
export const SOCKET_ACCESS: NodeApiAccess = { authenticator: fixedUser(SOCKET_USER), authorizer: alwaysAllow };

const VERB_FOR_METHOD: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** The kubelet's subresources by path prefix; everything else (exec, attach, run, port-forward, pods, logs) is `proxy`. */
const SUBRESOURCE_FOR_PREFIX: [string, string][] = [
  ['/stats', 'stats'],
  ['/metrics', 'metrics'],
  ['/logs', 'log'],
  ['/spec', 'spec'],
  ['/checkpoint', 'checkpoint'],
  ['/configz', 'configz'],
  ['/healthz', 'healthz'],
];

export function requestAttributes(user: NodeApiUser, method: string, path: string, nodeName: string): NodeApiRequestAttributes {
  const match = SUBRESOURCE_FOR_PREFIX.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`));
  return {
    user,
    verb: VERB_FOR_METHOD[method] ?? method.toLowerCase(),
    resource: 'nodes',
    subresource: match?.[1] ?? 'proxy',
    name: nodeName,
    path,
  };
}

/** The paths the kubelet's read-only port serves: nothing that runs anything or reads logs. */
export function isReadOnlyPath(path: string): boolean {
  return ['/pods', '/healthz', '/metrics', '/metrics/resource', '/metrics/probes', '/stats/summary'].some(
    (p) => path === p || path === `${p}/`,
  );
}
