// An OCI distribution client for pulling: resolve a reference to a descriptor, fetch manifests
// (verified, size-capped) and stream blobs (with a no-progress timeout).
//
// resolve() tries the endpoints of the reference's registry in order (mirrors, then the host).
// Like containerd it goes on to the next endpoint when one cannot be reached or answers with an
// error status, and reports the first error that was not a 404; content that does not match its
// digest or does not parse stops the search at once.

import type { BerthError } from '../../errors/errors.ts';
import { isBerthError, notFound, resourceExhausted, unauthenticated } from '../../errors/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import { parseDigest } from '../../oci/digest.ts';
import type { Descriptor } from '../../oci/image-spec.ts';
import { detectManifestMediaType, MANIFEST_ACCEPT, parseManifestOrIndex } from '../../oci/image-spec.ts';
import type { ImageReference } from '../../oci/reference.ts';
import { parseReference } from '../../oci/reference.ts';
import type { AuthConfig, Credentials } from './auth.ts';
import { Authorizer, checkCredentialsTransport, credentialsFor } from './auth.ts';
import type { BodyStream } from './body.ts';
import { DEFAULT_NO_PROGRESS_TIMEOUT_MS, readBody, readErrorBody, streamBody } from './body.ts';
import type { RegistryEndpoint, RegistryHostsConfig } from './hosts.ts';
import { endpointUrl, resolveHosts } from './hosts.ts';
import type { RegistryObject } from './status-errors.ts';
import { abortError, redact, statusError } from './status-errors.ts';
import type { HttpResponse } from './transport.ts';
import { HttpTransport } from './transport.ts';
import { digestOf, sizeMismatch, verifyBytes } from './verify.ts';

export const DEFAULT_MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MANIFEST_DEADLINE_MS = 2 * 60_000;

export interface RegistryClientOptions {
  /** Mirrors and plain-HTTP hosts, per registry host. */
  registries?: RegistryHostsConfig;
  userAgent?: string;
  /** Largest manifest or index accepted (default 8 MiB). */
  maxManifestBytes?: number;
  /** Default for waiting on response headers and between body chunks (default 5 min). */
  noProgressTimeoutMs?: number;
  /** A manifest or index must arrive whole within this long (default 2 min). */
  manifestDeadlineMs?: number;
  /** OAuth2 client_id for identity-token grants. */
  clientId?: string;
  /** Milliseconds since the epoch, for token expiry; for tests. */
  now?: () => number;
}

export interface RegistryRequestOptions {
  /** Credentials for the reference's registry (CRI AuthConfig). */
  auth?: AuthConfig;
  signal?: AbortSignal;
  /** Overrides the client's no-progress timeout for this call. */
  noProgressTimeoutMs?: number;
  /** fetchBlob: the whole blob must arrive within this long (for configs; layers have none). */
  deadlineMs?: number;
}

export interface ResolvedReference {
  reference: ImageReference;
  /** The manifest or index the reference names: its digest is computed from the bytes. */
  descriptor: Descriptor;
  /** The endpoint that answered; fetch children and blobs from it. */
  endpoint: RegistryEndpoint;
  /** The verified manifest or index bytes (no need to fetch them again). */
  bytes: Buffer;
  /** The Docker-Content-Digest the registry announced, if any (advisory for tags). */
  announcedDigest?: string;
}

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

function scopeFor(repository: string): string {
  return `repository:${repository}:pull`;
}

function mediaTypeHeader(res: HttpResponse): string | undefined {
  const ct = res.headers['content-type'];
  return ct === undefined ? undefined : ct.split(';')[0]!.trim().toLowerCase();
}

/** Errors after which resolve() tries the next endpoint. */
function worthNextEndpoint(e: unknown): boolean {
  if (!isBerthError(e)) return false;
  if (e.kind === 'not-found' || e.kind === 'unavailable' || e.kind === 'unauthenticated') return true;
  if (e.kind === 'deadline-exceeded' && e.code === 'no-progress') return true;
  if (e.kind === 'resource-exhausted' && e.code === 'response-too-large') return false;
  return e.kind === 'invalid-argument' && e.code === 'registry-bad-request';
}

export class RegistryClient {
  readonly #registries: RegistryHostsConfig;
  readonly #transport: HttpTransport;
  readonly #authorizer: Authorizer;
  readonly #maxManifestBytes: number;
  readonly #noProgressTimeoutMs: number;
  readonly #manifestDeadlineMs: number;
  readonly #plainHttpHosts: ReadonlySet<string>;

  constructor(options: RegistryClientOptions = {}) {
    this.#manifestDeadlineMs = options.manifestDeadlineMs ?? DEFAULT_MANIFEST_DEADLINE_MS;
    this.#registries = options.registries ?? {};
    this.#transport = new HttpTransport(options.userAgent ?? 'berth');
    this.#maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.#noProgressTimeoutMs = options.noProgressTimeoutMs ?? DEFAULT_NO_PROGRESS_TIMEOUT_MS;
    this.#plainHttpHosts = plainHttpHosts(this.#registries);
    this.#authorizer = new Authorizer(this.#transport, {
      plainHttpHosts: this.#plainHttpHosts,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      timeoutMs: this.#noProgressTimeoutMs,
    });
  }

  /** Ends idle connections. */
  close(): void {
    this.#transport.close();
  }

  /** The endpoints tried for a registry host, in order. */
  endpoints(domain: string): RegistryEndpoint[] {
    return resolveHosts(domain, this.#registries);
  }

  /**
   * Resolves a reference (tag or digest) to the descriptor of its manifest or index. For a
   * digest reference the bytes must hash to it (failed-precondition `digest-mismatch`); for a
   * tag the digest is that of the bytes received, whatever Docker-Content-Digest says.
   */
  async resolve(reference: ImageReference | string, options: RegistryRequestOptions = {}): Promise<ResolvedReference> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const object = ref.object;
    if (object === undefined) {
      throw notFound('manifest-unknown', `reference ${ref.string()} has neither tag nor digest`);
    }
    const endpoints = this.endpoints(ref.domain);
    let firstError: BerthError | undefined;
    for (const endpoint of endpoints) {
      try {
        const res = await this.#get(endpoint, ref.path, 'manifest', object, ref.domain, options, MANIFEST_ACCEPT.join(', '));
        const announced = res.headers['docker-content-digest'];
        const bytes = await readBody(res.body, res.url.href, this.#maxManifestBytes, {
          ...this.#readOptions(options),
          deadlineMs: this.#manifestDeadlineMs,
        });
        // Bytes named by a digest must hash to it before anything reads them.
        let digest: Digest;
        if (ref.digest !== undefined) {
          verifyBytes(bytes, { digest: ref.digest }, `manifest ${ref.string()} from ${redact(res.url.href)}`);
          digest = ref.digest;
        } else {
          digest = digestOf(bytes, 'sha256');
        }
        const mediaType = this.#checkManifest(bytes, mediaTypeHeader(res), ref.string());
        const result: ResolvedReference = {
          reference: ref,
          descriptor: { mediaType, digest, size: bytes.byteLength },
          endpoint,
          bytes,
        };
        if (typeof announced === 'string') result.announcedDigest = announced;
        return result;
      } catch (e) {
        if (options.signal?.aborted) throw abortError(options.signal);
        if (!worthNextEndpoint(e)) throw e;
        const err = e as BerthError;
        if (firstError === undefined && err.kind !== 'not-found') firstError = err;
      }
    }
    throw (
      firstError ??
      notFound('manifest-unknown', `${ref.string()}: not found (tried ${endpoints.map((x) => redact(x.apiRoot)).join(', ')})`, {
        fields: { reference: ref.string(), endpoints: endpoints.map((x) => x.apiRoot) },
      })
    );
  }

  /**
   * Fetches a manifest or index by digest from `endpoint` and verifies it against the digest
   * (and the size and media type, when a descriptor is given).
   */
  async fetchManifest(
    endpoint: RegistryEndpoint,
    repository: string,
    target: Digest | Descriptor,
    options: RegistryRequestOptions = {},
  ): Promise<FetchedManifest> {
    const expected: { digest: Digest; size?: number } =
      typeof target === 'string' ? { digest: parseDigest(target) } : { digest: parseDigest(target.digest), size: target.size };
    if (typeof target !== 'string' && target.size > this.#maxManifestBytes) {
      throw resourceExhausted(
        'response-too-large',
        `manifest ${target.digest} is ${target.size} bytes, more than ${this.#maxManifestBytes}`,
        {
          fields: { digest: target.digest, size: target.size, maxBytes: this.#maxManifestBytes },
        },
      );
    }
    const subject = `${endpoint.namespace}/${repository}@${expected.digest}`;
    const res = await this.#get(endpoint, repository, 'manifest', expected.digest, endpoint.namespace, options, MANIFEST_ACCEPT.join(', '));
    const bytes = await readBody(res.body, res.url.href, this.#maxManifestBytes, {
      ...this.#readOptions(options),
      deadlineMs: this.#manifestDeadlineMs,
    });
    verifyBytes(bytes, expected, `manifest ${subject}`);
    const declared = typeof target === 'string' ? mediaTypeHeader(res) : target.mediaType;
    const mediaType = this.#checkManifest(bytes, declared, subject);
    return { descriptor: { mediaType, digest: expected.digest, size: bytes.byteLength }, bytes };
  }

  /**
   * Opens a blob for streaming. Resolves once the registry answered 200 (after redirects), so
   * 404 and authentication failures surface here; reading then fails with deadline-exceeded
   * `no-progress` if no byte arrives within the timeout, or unavailable `transfer-interrupted`.
   * The bytes are not verified here: pass them to the content store (or `verifyStream`).
   */
  async fetchBlob(
    endpoint: RegistryEndpoint,
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    options: RegistryRequestOptions = {},
  ): Promise<BodyStream> {
    parseDigest(descriptor.digest);
    const res = await this.#get(endpoint, repository, 'blob', descriptor.digest, endpoint.namespace, options, '*/*');
    const body = streamBody(res.body, res.url.href, {
      ...this.#readOptions(options),
      ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    });
    if (body.contentLength !== undefined && body.contentLength !== descriptor.size) {
      body.close();
      throw sizeMismatch(descriptor.size, body.contentLength, `blob ${descriptor.digest} from ${redact(res.url.href)}`);
    }
    return body;
  }

  #readOptions(options: RegistryRequestOptions): { signal?: AbortSignal; noProgressTimeoutMs: number } {
    return {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      noProgressTimeoutMs: options.noProgressTimeoutMs ?? this.#noProgressTimeoutMs,
    };
  }

  /** Validates manifest bytes and returns their media type (schema 1: unimplemented). */
  #checkManifest(bytes: Buffer, declared: string | undefined, subject: string): string {
    const mediaType = detectManifestMediaType(bytes, declared);
    try {
      parseManifestOrIndex(bytes, mediaType);
    } catch (e) {
      if (isBerthError(e)) e.fields.reference ??= subject;
      throw e;
    }
    return mediaType;
  }

  /** GET with the authentication dance; returns a 2xx response or throws the mapped error. */
  async #get(
    endpoint: RegistryEndpoint,
    repository: string,
    object: RegistryObject,
    tagOrDigest: string,
    registry: string,
    options: RegistryRequestOptions,
    accept: string,
  ): Promise<HttpResponse> {
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);
    const url = endpointUrl(endpoint, repository, object === 'blob' ? 'blobs' : 'manifests', tagOrDigest);
    const creds = credentialsFor(options.auth, registry, url.host);
    checkCredentialsTransport(url, creds, this.#plainHttpHosts);
    const scope = scopeFor(repository);
    const subject =
      object === 'blob'
        ? `${tagOrDigest} of ${registry}/${repository}`
        : `${registry}/${repository}${tagOrDigest.includes(':') ? '@' : ':'}${tagOrDigest}`;
    const timeoutMs = options.noProgressTimeoutMs ?? this.#noProgressTimeoutMs;
    const send = (authorization: string | undefined) =>
      this.#transport.send({
        method: 'GET',
        url,
        headers: { accept },
        ...(authorization === undefined ? {} : { authorization }),
        signal,
        timeoutMs,
      });

    const first = await this.#authorizer.authorization(url.origin, scope, creds, signal);
    let res = await send(first);
    if (res.status === 401) {
      const header = res.headers['www-authenticate'];
      await readErrorBody(res.body);
      if (creds.kind === 'registry-token' || !this.#authorizer.challenged(url.origin, header, scope, creds)) {
        throw this.#unauthorized(res.status, object, subject, url.href, creds, header);
      }
      const again = await this.#authorizer.authorization(url.origin, scope, creds, signal);
      if (again === undefined) throw this.#unauthorized(res.status, object, subject, url.href, creds, header);
      res = await send(again);
    }
    if (res.status >= 200 && res.status <= 299) return res;
    const body = await readErrorBody(res.body);
    if (res.status === 401 || res.status === 403) {
      throw this.#unauthorized(res.status, object, subject, res.url.href, creds, res.headers['www-authenticate'], body);
    }
    throw statusError(res.status, { object, subject, url: res.url.href, body });
  }

  #unauthorized(
    status: number,
    object: RegistryObject,
    subject: string,
    url: string,
    creds: Credentials,
    header: string | string[] | undefined,
    body?: string,
  ): BerthError {
    const base = statusError(status, { object, subject, url, ...(body === undefined ? {} : { body }) });
    const why =
      creds.kind === 'anonymous'
        ? 'the registry requires authentication and no credentials were given, or the repository does not exist'
        : 'the registry rejected the credentials, or they do not grant pull access to this repository';
    const offered = parseOffered(header);
    return unauthenticated('registry-unauthorized', `pull access denied for ${object} ${subject}: ${why} (HTTP ${status}${offered})`, {
      cause: base,
      fields: { ...base.fields, credentials: creds.kind },
    });
  }
}

/** The hosts the configuration speaks plain HTTP to: insecure registries and http:// mirrors. */
function plainHttpHosts(registries: RegistryHostsConfig): Set<string> {
  const hosts = new Set<string>();
  for (const domain of Object.keys(registries)) {
    for (const endpoint of resolveHosts(domain, registries)) {
      const u = new URL(endpoint.apiRoot);
      if (u.protocol === 'http:') hosts.add(u.host);
    }
  }
  return hosts;
}

function parseOffered(header: string | string[] | undefined): string {
  if (header === undefined) return '';
  const text = Array.isArray(header) ? header.join(', ') : header;
  const scheme = text.trim().split(/\s+/)[0];
  return scheme === undefined || scheme === '' ? '' : `, server asks for ${scheme}`;
}
