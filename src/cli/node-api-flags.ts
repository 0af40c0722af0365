// The node API's flags of `berth node`, the kubelet's: --port (HTTPS, authenticated; default 10250),
// --read-only-port (default 0: off), --address, --tls-cert-file, --tls-private-key-file,
// --client-ca-file, --anonymous-auth (default false), --cert-dir, the webhook mode's
// --authentication-token-webhook and --authorization-mode=Webhook (with their cache TTLs; they need
// --kubeconfig); and berth's own --api-socket (the full API on a unix socket only root can open;
// default <root-dir>/node.sock, "" turns it off).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  alwaysAllow,
  anonymousAuthenticator,
  type NodeApiAuthenticator,
  SOCKET_ACCESS,
  unionAuthenticator,
  x509Authenticator,
} from '../agent/node-api-auth.ts';
import { servingCertificate } from '../agent/node-api-tls.ts';
import {
  AUTHORIZED_CACHE_TTL_MS,
  subjectAccessReviewAuthorizer,
  TOKEN_CACHE_TTL_MS,
  tokenReviewAuthenticator,
  UNAUTHORIZED_CACHE_TTL_MS,
} from '../agent/node-api-webhook.ts';
import type { NodeApiListener } from '../agent/node-http-api.ts';
import { invalidArgument } from '../errors/errors.ts';
import { parseDuration } from '../util/duration.ts';
import type { Logger } from '../util/logger.ts';
import type { Flags } from './command.ts';

/** The kubelet's authenticated port. */
export const DEFAULT_NODE_API_PORT = 10250;

export const NODE_API_FLAGS = {
  port: { type: 'string', value: 'N', help: 'the authenticated HTTPS port of the node API (default 10250; 0: off)' },
  'read-only-port': { type: 'string', value: 'N', help: 'the read-only port: /pods, /healthz, /metrics, /stats/summary (default 0: off)' },
  address: { type: 'string', value: 'IP', help: 'where the ports listen (default 0.0.0.0)' },
  'tls-cert-file': { type: 'string', value: 'FILE', help: 'the serving certificate (default: self-signed in --cert-dir)' },
  'tls-private-key-file': { type: 'string', value: 'FILE', help: "the serving certificate's key" },
  'client-ca-file': { type: 'string', value: 'FILE', help: 'client certificates signed by this CA are authenticated' },
  'anonymous-auth': { type: 'string', value: 'true|false', help: 'let unauthenticated requests in as system:anonymous (default false)' },
  'authentication-token-webhook': {
    type: 'string',
    value: 'true|false',
    help: 'check bearer tokens with the API server (TokenReview; needs --kubeconfig; default false)',
  },
  'authentication-token-webhook-cache-ttl': { type: 'string', value: 'DURATION', help: 'how long token reviews are cached (default 2m)' },
  'authorization-mode': {
    type: 'string',
    value: 'AlwaysAllow|Webhook',
    help: 'Webhook: ask the API server (SubjectAccessReview; needs --kubeconfig; default AlwaysAllow)',
  },
  'authorization-webhook-cache-authorized-ttl': {
    type: 'string',
    value: 'DURATION',
    help: 'how long allowed decisions are cached (default 5m)',
  },
  'authorization-webhook-cache-unauthorized-ttl': { type: 'string', value: 'DURATION', help: 'how long denials are cached (default 30s)' },
  'cert-dir': { type: 'string', value: 'DIR', help: 'where the self-signed certificate is kept (default <root-dir>/pki)' },
  'api-socket': {
    type: 'string',
    value: 'PATH',
    help: 'the full API on a socket only root can open (default <root-dir>/node.sock; "": none)',
  },
} as const satisfies Flags;

export const NODE_API_USAGE =
  '[--port N (HTTPS, default 10250; 0: off)] [--read-only-port N (default 0: off)] [--address IP (default 0.0.0.0)] [--tls-cert-file FILE --tls-private-key-file FILE (default: self-signed in --cert-dir)] [--cert-dir DIR (default <root-dir>/pki)] [--client-ca-file FILE] [--anonymous-auth=true|false (default false)] [--authentication-token-webhook=true|false] [--authorization-mode AlwaysAllow|Webhook] [--api-socket PATH (default <root-dir>/node.sock; "": none)]';

function portFlag(values: Record<string, string | undefined>, flag: string, fallback: number): number {
  const text = values[flag];
  const port = text === undefined ? fallback : Number(text);
  if (text?.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgument('bad-flag', `--${flag}: not a port: ${text}`);
  return port;
}

function booleanFlag(values: Record<string, string | undefined>, flag: string): boolean {
  const text = values[flag];
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  throw invalidArgument('bad-flag', `--${flag}: expected true or false, got ${text}`);
}

function durationFlag(values: Record<string, string | undefined>, flag: string, fallback: number): number {
  const text = values[flag];
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) throw invalidArgument('bad-flag', `--${flag}: not a duration: ${text}`);
  return ms;
}

function authorizationMode(values: Record<string, string | undefined>): 'AlwaysAllow' | 'Webhook' {
  const mode = values['authorization-mode'] ?? 'AlwaysAllow';
  if (mode !== 'AlwaysAllow' && mode !== 'Webhook')
    throw invalidArgument('bad-flag', `--authorization-mode: AlwaysAllow or Webhook, not ${mode}`);
  return mode;
}

/** The API server's connection for webhook mode, refused when there is none. */
function webhookConfig(kubeConfig: KubeConfig | undefined, flag: string): KubeConfig {
  if (kubeConfig === undefined) throw invalidArgument('bad-flag', `${flag} asks the API server: it needs --kubeconfig`);
  return kubeConfig;
}

/** The listeners the flags ask for, certificates read or made; `kubeConfig` is the API server's, for webhook mode. */
export async function nodeApiListeners(
  values: Record<string, string | undefined>,
  context: { rootDir: string; nodeName: string; nodeIP: string | undefined; logger: Logger; kubeConfig?: KubeConfig },
): Promise<NodeApiListener[]> {
  const port = portFlag(values, 'port', DEFAULT_NODE_API_PORT);
  const readOnlyPort = portFlag(values, 'read-only-port', 0);
  const host = values.address ?? '0.0.0.0';
  const anonymous = booleanFlag(values, 'anonymous-auth');
  const tokenWebhook = booleanFlag(values, 'authentication-token-webhook');
  const mode = authorizationMode(values);
  const socketPath = values['api-socket'] ?? path.join(context.rootDir, 'node.sock');
  const listeners: NodeApiListener[] = [];
  if (socketPath !== '') listeners.push({ socketPath, access: SOCKET_ACCESS });
  if (port !== 0) {
    const serving = await servingCertificate({
      certFile: values['tls-cert-file'],
      keyFile: values['tls-private-key-file'],
      certDir: values['cert-dir'] ?? path.join(context.rootDir, 'pki'),
      names: [context.nodeName, context.nodeIP ?? '', 'localhost', '127.0.0.1'],
      logger: context.logger,
    });
    const caFile = values['client-ca-file'];
    let clientCA: Buffer | undefined;
    if (caFile !== undefined) {
      try {
        clientCA = await readFile(caFile);
      } catch (e) {
        throw invalidArgument('bad-flag', `--client-ca-file: ${(e as Error).message}`, { cause: e });
      }
    }
    // The kubelet's order: client certificates, bearer tokens, then anonymous.
    const authenticators: NodeApiAuthenticator[] = [
      ...(clientCA ? [x509Authenticator] : []),
      ...(tokenWebhook
        ? [
            tokenReviewAuthenticator(webhookConfig(context.kubeConfig, '--authentication-token-webhook'), {
              cacheTtlMs: durationFlag(values, 'authentication-token-webhook-cache-ttl', TOKEN_CACHE_TTL_MS),
            }),
          ]
        : []),
      ...(anonymous ? [anonymousAuthenticator] : []),
    ];
    if (authenticators.length === 0)
      context.logger.warn('neither --client-ca-file, --authentication-token-webhook nor --anonymous-auth: the HTTPS port lets nobody in');
    const authorizer =
      mode === 'Webhook'
        ? subjectAccessReviewAuthorizer(webhookConfig(context.kubeConfig, '--authorization-mode=Webhook'), {
            authorizedTtlMs: durationFlag(values, 'authorization-webhook-cache-authorized-ttl', AUTHORIZED_CACHE_TTL_MS),
            unauthorizedTtlMs: durationFlag(values, 'authorization-webhook-cache-unauthorized-ttl', UNAUTHORIZED_CACHE_TTL_MS),
          })
        : alwaysAllow;
    if (mode === 'AlwaysAllow' && tokenWebhook)
      context.logger.warn(
        '--authentication-token-webhook without --authorization-mode=Webhook: every token the API server knows may do anything here',
      );
    if (anonymous) context.logger.warn('--anonymous-auth=true: anyone who reaches the HTTPS port may run commands in every container');
    listeners.push({
      port,
      host,
      tls: { cert: serving.cert, key: serving.key, ...(clientCA ? { clientCA } : {}) },
      access: { authenticator: unionAuthenticator(...authenticators), authorizer },
    });
  }
  if (readOnlyPort !== 0) listeners.push({ port: readOnlyPort, host, access: 'read-only' });
  return listeners;
}
