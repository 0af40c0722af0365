// The CRI AuthConfig of a pull → the registry client's credentials; nothing set is none at all.
import type { AuthConfig } from '../image/registry/auth.ts';
import type { AuthConfig as CriAuthConfig } from './gen/runtime/v1/api_pb.js';

export function fromCriAuth(auth: CriAuthConfig | undefined): AuthConfig | undefined {
  if (!auth) return undefined;
  const out: AuthConfig = {};
  if (auth.username) out.username = auth.username;
  if (auth.password) out.password = auth.password;
  if (auth.auth) out.auth = auth.auth;
  if (auth.serverAddress) out.serverAddress = auth.serverAddress;
  if (auth.identityToken) out.identityToken = auth.identityToken;
  if (auth.registryToken) out.registryToken = auth.registryToken;
  return Object.keys(out).length > 0 ? out : undefined;
}
