// Image pull secrets to CRI AuthConfigs, as the kubelet's credential keyring does
// (pkg/credentialprovider): secrets of type kubernetes.io/dockerconfigjson (`.dockerconfigjson`,
// {"auths": {REGISTRY: {...}}}) or kubernetes.io/dockercfg (`.dockercfg`, {REGISTRY: {...}});
// a key matches an image when its host (a `*` matches one DNS label), port and path prefix match
// the image's registry and repository. Docker Hub's many names (index.docker.io, the v1 URL,
// registry-1.docker.io) all mean docker.io. The most specific keys come first.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Secret } from '../../agent/k8s-types.ts';
import type { AuthConfigSchema } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, parseReference } from '../../oci/reference.ts';

export type AuthConfigInit = MessageInitShape<typeof AuthConfigSchema>;

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CFG_TYPE = 'kubernetes.io/dockercfg';

interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface KeyringEntry {
  key: string;
  host: string;
  port: string;
  path: string;
  auth: AuthConfigInit;
}

const DOCKER_HUB_NAMES = new Set([DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, 'registry-1.docker.io', 'registry.hub.docker.com']);

function decodeBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

/** The registry entries of one secret; a secret of another type, or one that does not parse, has none. */
export function secretEntries(secret: Secret): Record<string, DockerConfigEntry> {
  const data = secret.data ?? {};
  try {
    if (secret.type === DOCKER_CONFIG_JSON_TYPE && data['.dockerconfigjson'] !== undefined) {
      const parsed = JSON.parse(decodeBase64(data['.dockerconfigjson'])) as { auths?: Record<string, DockerConfigEntry> };
      return parsed.auths ?? {};
    }
    if (secret.type === DOCKER_CFG_TYPE && data['.dockercfg'] !== undefined) {
      return JSON.parse(decodeBase64(data['.dockercfg'])) as Record<string, DockerConfigEntry>;
    }
  } catch {
    return {};
  }
  return {};
}

/** `https://index.docker.io/v1/` → docker.io, `*.example.com:5000/team` → host, port, path. */
function parseKey(key: string): { host: string; port: string; path: string } | undefined {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(key) ? key : `https://${key}`);
  } catch {
    return undefined;
  }
  // URL would turn `*` into `%2A`; keep what was written.
  const host = (/^[a-z][a-z0-9+.-]*:\/\/([^/:]+)/i.exec(key)?.[1] ?? key.split(/[/:]/)[0]!).toLowerCase();
  let path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const normalizedHost = DOCKER_HUB_NAMES.has(host) ? DEFAULT_DOMAIN : host;
  // The Docker Hub v1 URL names the registry, not a repository.
  if (normalizedHost === DEFAULT_DOMAIN && (path === 'v1' || path === 'v2')) path = '';
  return { host: normalizedHost, port: url.port, path };
}

function authOf(key: string, entry: DockerConfigEntry): AuthConfigInit {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if ((username === '' || password === '') && entry.auth) {
    const decoded = decodeBase64(entry.auth);
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username ||= decoded.slice(0, colon);
      password ||= decoded.slice(colon + 1);
    }
  }
  return {
    username,
    password,
    serverAddress: key,
    ...(entry.auth ? { auth: entry.auth } : {}),
    ...(entry.identitytoken ? { identityToken: entry.identitytoken } : {}),
    ...(entry.registrytoken ? { registryToken: entry.registrytoken } : {}),
  };
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.split('.');
  const h = host.split('.');
  if (p.length !== h.length) return false;
  return p.every((label, i) => label === '*' || label === h[i]);
}

/** The credentials the secrets hold for `image`, most specific first (the kubelet tries them in turn). */
export function pullCredentials(image: string, secrets: Secret[]): AuthConfigInit[] {
  let domain: string;
  let repository: string;
  try {
    const ref = parseReference(image);
    domain = ref.domain;
    repository = ref.path;
  } catch {
    return [];
  }
  const [imageHost, imagePort = ''] = domain.toLowerCase().split(':') as [string, string?];
  const entries: KeyringEntry[] = [];
  for (const secret of secrets) {
    for (const [key, entry] of Object.entries(secretEntries(secret))) {
      const parsed = parseKey(key);
      if (parsed === undefined) continue;
      entries.push({ key, ...parsed, auth: authOf(key, entry) });
    }
  }
  const matching = entries.filter(
    (e) =>
      hostMatches(e.host, imageHost) &&
      e.port === imagePort &&
      (e.path === '' || repository === e.path || repository.startsWith(`${e.path}/`)),
  );
  // A longer path is more specific, then a host without wildcards; a stable sort keeps the secrets' order among equals.
  const specificity = (e: KeyringEntry) => e.path.length * 1000 + e.host.replaceAll('*', '').length;
  return matching.sort((a, b) => specificity(b) - specificity(a)).map((e) => e.auth);
}
