// Image names between the CRI and Docker. Docker knows registry mirrors only for docker.io, so the
// dockershim pulls from a mirror under the mirror's own name (MIRRORHOST/repo@digest) and tags the
// image under the asked name; the repo digest Docker keeps under the mirror's name is mapped back
// to the asked name through the configuration, so that nothing but the config is needed to read it.
import type { Config } from '../config/config.ts';
import { type BerthError, invalidArgument } from '../errors/errors.ts';
import { DOCKER_HUB_API_HOST } from '../image/registry/hosts.ts';
import type { Digest } from '../oci/digest.ts';
import { DEFAULT_DOMAIN, ImageReference, LEGACY_DEFAULT_DOMAIN, parseReference } from '../oci/reference.ts';

export type Registries = Config['registries'];

export type PullSource =
  /** A mirror of the asked host: the same repository under the mirror's name. */
  | { mirror: string; repository: ImageReference }
  /** A mirror Docker cannot address (its path does not start with /v2). */
  | { mirror: string; unusable: BerthError }
  /** The asked host itself. */
  | { mirror: undefined; repository: ImageReference };

function hostDomain(configKey: string): string {
  return configKey === LEGACY_DEFAULT_DOMAIN || configKey === DOCKER_HUB_API_HOST ? DEFAULT_DOMAIN : configKey;
}

function mirrorsOf(domain: string, registries: Registries): string[] {
  return Object.entries(registries)
    .filter(([key]) => hostDomain(key) === domain)
    .flatMap(([, host]) => host.mirrors);
}

/**
 * The name prefix under which Docker reaches a mirror: `127.0.0.1:5000`, or `harbor.example/proxy`
 * for `https://harbor.example/v2/proxy` (Docker asks HOST/v2/PATH/…, so only a path under /v2 maps).
 */
export function mirrorPrefix(mirror: string): { host: string; path: string } | BerthError {
  let url: URL;
  try {
    url = new URL(mirror);
  } catch (e) {
    return invalidArgument('docker-mirror-unusable', `mirror "${mirror}" is not a URL`, { cause: e, fields: { mirror } });
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (path === '' || path === '/v2') return { host: url.host, path: '' };
  if (path.startsWith('/v2/')) return { host: url.host, path: path.slice('/v2/'.length) };
  return invalidArgument(
    'docker-mirror-unusable',
    `mirror "${mirror}" has a path Docker cannot address (Docker asks https://HOST/v2/NAME/…; a mirror path must start with /v2/)`,
    { fields: { mirror } },
  );
}

function underPrefix(prefix: { host: string; path: string }, repoPath: string): ImageReference {
  return new ImageReference(prefix.host, prefix.path === '' ? repoPath : `${prefix.path}/${repoPath}`);
}

/** Where to pull `ref` from, in order: each mirror of its host, then the host. */
export function pullSources(ref: ImageReference, registries: Registries): PullSource[] {
  const sources: PullSource[] = mirrorsOf(ref.domain, registries).map((mirror) => {
    const prefix = mirrorPrefix(mirror);
    return prefix instanceof Error ? { mirror, unusable: prefix } : { mirror, repository: underPrefix(prefix, ref.path) };
  });
  sources.push({ mirror: undefined, repository: ref.repository() });
  return sources;
}

/** The names Docker may know a digest reference by: itself, then under each mirror's name. */
export function dockerNamesOf(ref: ImageReference, registries: Registries): string[] {
  const names = [ref.string()];
  if (ref.digest === undefined) return names;
  for (const source of pullSources(ref, registries)) {
    if (source.mirror !== undefined && 'repository' in source) names.push(source.repository.withDigest(ref.digest).string());
  }
  return names;
}

/** The asked repositories a Docker repository under a mirror's name stands for. */
function askedRepositories(name: ImageReference, registries: Registries): ImageReference[] {
  const out: ImageReference[] = [];
  for (const [key, host] of Object.entries(registries)) {
    for (const mirror of host.mirrors) {
      const prefix = mirrorPrefix(mirror);
      if (prefix instanceof Error || prefix.host !== name.domain) continue;
      const lead = prefix.path === '' ? '' : `${prefix.path}/`;
      if (name.path.startsWith(lead) && name.path.length > lead.length)
        out.push(new ImageReference(hostDomain(key), name.path.slice(lead.length)));
    }
  }
  return out;
}

function parseOrUndefined(s: string): ImageReference | undefined {
  try {
    return parseReference(s);
  } catch {
    return undefined;
  }
}

/** Docker's RepoTags, normalised (`busybox:latest` → `docker.io/library/busybox:latest`); `<none>:<none>` dropped. */
export function criRepoTags(dockerTags: string[] | undefined): string[] {
  return (dockerTags ?? []).flatMap((t) => parseOrUndefined(t)?.string() ?? []);
}

/**
 * Docker's RepoDigests under the asked names: one under a mirror's name becomes the asked host's
 * when the image is tagged in that repository (or nowhere else in the mirror's and the asked
 * repositories: it was pulled by digest); it stays under its own name when tagged there.
 */
export function criRepoDigests(dockerDigests: string[] | undefined, repoTags: string[], registries: Registries): string[] {
  const tagged = new Set(repoTags.flatMap((t) => parseOrUndefined(t)?.name ?? []));
  const out = new Set<string>();
  for (const d of dockerDigests ?? []) {
    const ref = parseOrUndefined(d);
    if (ref?.digest === undefined) continue;
    const digest: Digest = ref.digest;
    const candidates = askedRepositories(ref.repository(), registries);
    let asked = candidates.filter((c) => tagged.has(c.name));
    if (asked.length === 0 && !tagged.has(ref.name)) asked = candidates;
    for (const a of asked) out.add(a.withDigest(digest).string());
    if (asked.length === 0 || tagged.has(ref.name)) out.add(ref.withDigest(digest).string());
  }
  return [...out];
}
