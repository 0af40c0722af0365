// The CRI AuthConfig of a pull as Docker's X-Registry-Auth header: its AuthConfig JSON in base64url.
import type { AuthConfig as CriAuthConfig } from '../cri-api/gen/runtime/v1/api_pb.js';

interface DockerAuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** `user:password` of an `auth` field, when it holds one. */
function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  return colon > 0 ? { username: plain.slice(0, colon), password: plain.slice(colon + 1) } : undefined;
}

/** The header value, or undefined when the request brings no credentials. */
export function registryAuthHeader(auth: CriAuthConfig | undefined): string | undefined {
  if (!auth) return undefined;
  const out: DockerAuthConfig = {};
  if (auth.username) out.username = auth.username;
  if (auth.password) out.password = auth.password;
  if (auth.auth) {
    out.auth = auth.auth;
    // The engine reads only username and password; `auth` is decoded by the docker CLI.
    if (!out.username && !out.password) Object.assign(out, decodeAuth(auth.auth));
  }
  if (auth.serverAddress) out.serveraddress = auth.serverAddress;
  if (auth.identityToken) out.identitytoken = auth.identityToken;
  if (auth.registryToken) out.registrytoken = auth.registryToken;
  if (Object.keys(out).length === 0) return undefined;
  // Padded: the engine decodes with Go's base64.URLEncoding and drops what fails to decode.
  return Buffer.from(JSON.stringify(out)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
