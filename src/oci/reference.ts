// Image references, parsed and normalised the way Docker's reference grammar does it:
//
//   reference   := name [ ":" tag ] [ "@" digest ]
//   name        := [domain "/"] path
//   domain      := host [":" port]          (host: DNS-like name, IPv4, or [IPv6])
//   path        := component ("/" component)*
//   component   := [a-z0-9]+ (separator [a-z0-9]+)*      separator := "." | "_" | "__" | "-"+
//   tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// Normalisation ("familiar" names to canonical ones): `busybox` → `docker.io/library/busybox:latest`,
// `foo/bar` → `docker.io/foo/bar:latest`, `index.docker.io/x` → `docker.io/library/x`. The first
// element is a domain only if it contains "." or ":" or is "localhost".

import type { BerthError } from '../errors/errors.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { Digest } from './digest.ts';
import { isDigest } from './digest.ts';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** Longest repository path (without the domain) that the grammar accepts. */
export const MAX_PATH_LENGTH = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_RE = new RegExp(`^${PATH}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

export interface ParseReferenceOptions {
  /** Add the tag `latest` when the reference has neither tag nor digest (default true). */
  defaultTag?: boolean;
}

/** A parsed, normalised image reference. Immutable. */
export class ImageReference {
  /** Registry host, with port if any: `docker.io`, `registry.k8s.io`, `localhost:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;

  constructor(domain: string, path: string, tag?: string, digest?: Digest) {
    this.domain = domain;
    this.path = path;
    this.tag = tag;
    this.digest = digest;
  }

  /** `domain/path`, e.g. `docker.io/library/busybox`. */
  get name(): string {
    return `${this.domain}/${this.path}`;
  }

  /** The full normalised reference: `docker.io/library/busybox:latest[@sha256:…]`. */
  string(): string {
    return this.name + suffix(this.tag, this.digest);
  }

  toString(): string {
    return this.string();
  }

  /** The short form the Docker CLI shows: `busybox:latest`, `foo/bar@sha256:…`, `quay.io/x/y:1`. */
  familiar(): string {
    return familiarName(this.domain, this.path) + suffix(this.tag, this.digest);
  }

  /** What to ask the registry for: the digest if there is one, else the tag. */
  get object(): string | undefined {
    return this.digest ?? this.tag;
  }

  /** The same repository with this digest and no tag (a "repo digest"). */
  withDigest(digest: Digest): ImageReference {
    return new ImageReference(this.domain, this.path, undefined, digest);
  }

  /** The same repository with this tag and no digest. */
  withTag(tag: string): ImageReference {
    if (!TAG_RE.test(tag)) throw badReference(`${this.name}:${tag}`, 'invalid tag format');
    return new ImageReference(this.domain, this.path, tag, undefined);
  }

  /** The repository name alone, without tag or digest. */
  repository(): ImageReference {
    return new ImageReference(this.domain, this.path);
  }
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`);
}

/** Would `first`, as the first component of a familiar name, be read as a registry host? */
function looksLikeDomain(first: string): boolean {
  return first === 'localhost' || first.includes('.') || first.includes(':');
}

function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  // Docker drops docker.io/ even here, so that `docker.io/r.io/app` would read back as host r.io.
  if (looksLikeDomain(path.split('/')[0]!)) return `${DEFAULT_DOMAIN}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return path;
}

function badReference(input: string, why: string): BerthError {
  return invalidArgument('bad-reference', `invalid image reference "${input}": ${why}`, {
    fields: { reference: input },
  });
}

/** Splits a familiar name into domain and the rest, as Docker does (before validation). */
function splitDomain(s: string): [string, string] {
  const slash = s.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + s];
  const first = s.slice(0, slash);
  let rest = s.slice(slash + 1);
  let domain: string;
  if (first === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  else if (looksLikeDomain(first)) domain = first;
  else return [DEFAULT_DOMAIN, s];
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [domain, rest];
}

/**
 * Parses an image reference in familiar or canonical form and normalises it. Throws BerthError
 * invalid-argument `bad-reference` naming the input when it does not follow the grammar.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): ImageReference {
  if (typeof input !== 'string' || input === '') throw badReference(String(input ?? ''), 'empty reference');
  if (IDENTIFIER_RE.test(input)) {
    throw badReference(input, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  if (input.trim() !== input) throw badReference(input, 'surrounding white space');
  const [domain, remainder] = splitDomain(input);
  const colon = remainder.indexOf(':');
  const at = remainder.indexOf('@');
  const end = Math.min(colon < 0 ? remainder.length : colon, at < 0 ? remainder.length : at);
  const remote = remainder.slice(0, end);
  if (remote.toLowerCase() !== remote) throw badReference(input, `repository name "${remote}" must be lowercase`);

  const m = REFERENCE_RE.exec(`${domain}/${remainder}`);
  if (m === null || m[1] === undefined) throw badReference(input, 'invalid reference format');
  const path = m[2]!;
  if (path.length > MAX_PATH_LENGTH) {
    throw badReference(input, `repository name must not be more than ${MAX_PATH_LENGTH} characters`);
  }
  const tag = m[3];
  const rawDigest = m[4];
  let digest: Digest | undefined;
  if (rawDigest !== undefined) {
    if (!isDigest(rawDigest)) throw badReference(input, `unsupported or malformed digest "${rawDigest}"`);
    digest = rawDigest;
  }
  const useDefaultTag = options.defaultTag ?? true;
  return new ImageReference(m[1], path, tag ?? (digest === undefined && useDefaultTag ? DEFAULT_TAG : undefined), digest);
}

/** The full normalised string of a reference: `busybox` → `docker.io/library/busybox:latest`. */
export function normalizeReference(input: string): string {
  return parseReference(input).string();
}

/** True when `input` parses as an image reference. */
export function isReference(input: string): boolean {
  try {
    parseReference(input);
    return true;
  } catch {
    return false;
  }
}

/** The familiar form of any reference: `docker.io/library/busybox:latest` → `busybox:latest`. */
export function familiarReference(input: string): string {
  return parseReference(input, { defaultTag: false }).familiar();
}

/** Validators for the parts, for callers that build references piece by piece. */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function isValidDomain(domain: string): boolean {
  return DOMAIN_RE.test(domain);
}

export function isValidPath(path: string): boolean {
  return PATH_RE.test(path) && path.length <= MAX_PATH_LENGTH;
}
