// The node API as tests reach it: the full API on the root-only socket in the work folder, the
// read-only port on loopback; requests through the CLI's own client (src/cli/kube/node-api-endpoint.ts).
import path from 'node:path';
import { alwaysAllow, anonymousAuthenticator, type NodeApiAccess, SOCKET_ACCESS } from '../../../src/agent/node-api-auth.ts';
import type { NodeApiListener } from '../../../src/agent/node-http-api.ts';
import { nodeApiFetch } from '../../../src/cli/kube/node-api-endpoint.ts';

/** Anyone may call (the kubelet's --anonymous-auth=true with AlwaysAllow), for tests about what the API does, not who may call it. */
export const OPEN_ACCESS: NodeApiAccess = { authenticator: anonymousAuthenticator, authorizer: alwaysAllow };

interface Listening {
  readonly apiListening: { port?: number; socketPath?: string }[];
}

/** The socket `node.sock` in `dir` and a read-only port that the system picks. */
export function testNodeApi(dir: string): NodeApiListener[] {
  return [
    { socketPath: path.join(dir, 'node.sock'), access: SOCKET_ACCESS },
    { port: 0, access: 'read-only' },
  ];
}

/** The node's read-only port as a base URL. */
export function readOnlyBase(node: Listening): string {
  const port = node.apiListening.find((l) => l.port !== undefined)?.port;
  if (port === undefined) throw new Error('the node serves no port');
  return `http://127.0.0.1:${port}`;
}

/** The node's socket as the CLI's --node-api takes it. */
export function socketUrl(node: Listening): string {
  const socketPath = node.apiListening.find((l) => l.socketPath !== undefined)?.socketPath;
  if (socketPath === undefined) throw new Error('the node serves no socket');
  return `unix://${socketPath}`;
}

/** GET on the node's full API (its socket). */
export function nodeGet(node: Listening, pathAndQuery: string, signal?: AbortSignal): Promise<Response> {
  return nodeApiFetch(socketUrl(node), pathAndQuery, signal);
}
