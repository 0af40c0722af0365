// Where to reach the registry of a reference: its configured mirrors first, in order, then the
// host itself. Docker Hub's API host is registry-1.docker.io. A host is spoken to over HTTPS
// unless configured `insecure`; a mirror URL carries its own scheme. When a request goes through
// a mirror the repository path stays the same and `?ns=<original host>` is added (as containerd
// does; plain registries ignore it).
import { invalidArgument } from '../../errors/errors.ts';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN } from '../../oci/reference.ts';

export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface RegistryHostConfig {
  /** Mirror base URLs with scheme, tried in order before the host: `http://127.0.0.1:5000`. */
  mirrors?: string[];
  /** Speak plain HTTP to the host itself. */
  insecure?: boolean;
}

/** Per registry host (`docker.io`, `registry.k8s.io`, `localhost:5000`). */
export type RegistryHostsConfig = Record<string, RegistryHostConfig>;

export interface RegistryEndpoint {
  /** The API root without a trailing slash: `https://registry-1.docker.io/v2`. */
  readonly apiRoot: string;
  /** The registry host the image reference names (`docker.io`); sent as `ns` through mirrors. */
  readonly namespace: string;
  /** True when this endpoint is a mirror rather than the named host. */
  readonly mirror: boolean;
}

function badMirror(domain: string, mirror: string, why: string): Error {
  return invalidArgument('bad-mirror', `invalid mirror "${mirror}" for registry ${domain}: ${why}`, {
    fields: { registry: domain, mirror },
  });
}

function mirrorApiRoot(domain: string, mirror: string): string {
  let u: URL;
  try {
    u = new URL(mirror);
  } catch {
    throw badMirror(domain, mirror, 'not a URL (a scheme such as http:// or https:// is required)');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badMirror(domain, mirror, 'scheme must be http or https');
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw badMirror(domain, mirror, 'must not carry a query, a fragment or credentials');
  }
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v2')) path += '/v2';
  return `${u.protocol}//${u.host}${path}`;
}

function configFor(domain: string, config: RegistryHostsConfig): RegistryHostConfig {
  if (Object.hasOwn(config, domain)) return config[domain]!;
  if (domain === DEFAULT_DOMAIN) {
    for (const alias of [LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API_HOST]) if (Object.hasOwn(config, alias)) return config[alias]!;
  }
  return {};
}

/** The ordered endpoints to try for a registry host. Throws invalid-argument `bad-mirror`. */
export function resolveHosts(domain: string, config: RegistryHostsConfig = {}): RegistryEndpoint[] {
  const hostConfig = configFor(domain, config);
  const out: RegistryEndpoint[] = [];
  for (const mirror of hostConfig.mirrors ?? []) {
    out.push({ apiRoot: mirrorApiRoot(domain, mirror), namespace: domain, mirror: true });
  }
  const host = domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
  const scheme = hostConfig.insecure === true ? 'http' : 'https';
  out.push({ apiRoot: `${scheme}://${host}/v2`, namespace: domain, mirror: false });
  return out;
}

/** URL of a manifest or blob at an endpoint; `object` is a tag or a digest. */
export function endpointUrl(endpoint: RegistryEndpoint, repository: string, kind: 'manifests' | 'blobs', object: string): URL {
  const u = new URL(`${endpoint.apiRoot}/${repository}/${kind}/${encodeURIComponent(object).replace(/%3A/gi, ':')}`);
  if (endpoint.mirror) u.searchParams.set('ns', endpoint.namespace);
  return u;
}

/** `scheme://host:port` of an endpoint, which is what tokens and challenges are kept by. */
export function endpointOrigin(endpoint: RegistryEndpoint): string {
  return new URL(endpoint.apiRoot).origin;
}
