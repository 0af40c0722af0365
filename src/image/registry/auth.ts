// Registry authentication: answers to `WWW-Authenticate` challenges.
//   Bearer: get a token from the challenge's realm for `repository:<path>:pull` (GET with Basic
//           credentials if any; an identity token is an OAuth2 refresh token, sent by POST with
//           grant_type=refresh_token and, if the server does not do OAuth2, by GET), cached per
//           realm + service + scope + credentials until it expires.
//   Basic:  the username and password.
// A registry token (CRI AuthConfig.registry_token) is sent as Bearer as it is, without a challenge.
import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument, unauthenticated, unavailable } from '../../errors/errors.ts';
import { readBody, readErrorBody } from './body.ts';
import { redact, statusError } from './status-errors.ts';
import type { HttpTransport } from './transport.ts';

/** Credentials as CRI passes them (runtime.v1.AuthConfig), camel-cased. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password`. */
  auth?: string;
  /** When set, the credentials are for this registry only. */
  serverAddress?: string;
  /** An OAuth2 refresh token. */
  identityToken?: string;
  /** A bearer token for the registry itself. */
  registryToken?: string;
}

export type Credentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity-token'; token: string }
  | { kind: 'registry-token'; token: string };

const ANONYMOUS: Credentials = { kind: 'anonymous' };

function canonicalHost(address: string): string {
  let host = address.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  host = host.split('/')[0] ?? '';
  host = host.toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io';
  return host;
}

/**
 * The credentials an AuthConfig gives for requests to `endpointHost` on behalf of `registry`
 * (the host the image reference names). With `serverAddress` set they apply only when it names
 * one of the two. Throws invalid-argument `bad-auth-config` for an undecodable `auth`.
 */
export function credentialsFor(config: AuthConfig | undefined, registry: string, endpointHost?: string): Credentials {
  if (config === undefined) return ANONYMOUS;
  if (config.serverAddress !== undefined && config.serverAddress !== '') {
    const server = canonicalHost(config.serverAddress);
    const hosts = [canonicalHost(registry), ...(endpointHost === undefined ? [] : [canonicalHost(endpointHost)])];
    if (!hosts.includes(server)) return ANONYMOUS;
  }
  if (config.registryToken) return { kind: 'registry-token', token: config.registryToken };
  if (config.username) return { kind: 'basic', username: config.username, password: config.password ?? '' };
  if (config.identityToken) return { kind: 'identity-token', token: config.identityToken };
  if (config.auth) {
    const decoded = Buffer.from(config.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw invalidArgument('bad-auth-config', 'the "auth" field of the credentials is not base64 of "username:password"');
    }
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return ANONYMOUS;
}

export interface Challenge {
  /** Lower-cased: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names lower-cased. */
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate` (one header or several), per RFC 7235. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (text[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const word = token();
    if (word === '') {
      i++; // skip a stray character
      continue;
    }
    skipWs();
    if (text[i] === '=' && current !== undefined) {
      i++;
      skipWs();
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          value += text[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
        // token68 such as base64 may end in '='
        while (text[i] === '=') {
          value += '=';
          i++;
        }
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    if (text[i] === '=' && current === undefined) {
      i = start + word.length + 1;
      continue;
    }
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

interface Token {
  value: string;
  expiresAt: number;
}

export interface AuthorizerOptions {
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
  /** OAuth2 client_id sent with refresh-token grants. */
  clientId?: string;
  /** Wait for a token server's answer, in ms. */
  timeoutMs?: number;
  /**
   * Hosts (`host:port`) the operator marked for plain HTTP (an insecure registry, an http://
   * mirror). Credentials go over plain HTTP to these only; elsewhere only over TLS.
   */
  plainHttpHosts?: ReadonlySet<string>;
}

/** Refuses to send credentials in the clear to a host nobody marked for plain HTTP. */
export function checkCredentialsTransport(url: URL, creds: Credentials, plainHttpHosts: ReadonlySet<string>): void {
  if (creds.kind === 'anonymous' || url.protocol === 'https:' || plainHttpHosts.has(url.host)) return;
  throw failedPrecondition(
    'credentials-need-tls',
    `credentials are sent only over TLS or to a host configured for plain HTTP; ${redact(url.origin)} is neither`,
    { fields: { url: url.origin } },
  );
}

/** Default token lifetime when the server does not say (the token spec's 60 s). */
const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are renewed this long before they expire. */
const EXPIRY_MARGIN_MS = 5_000;

function credentialsKey(c: Credentials): string {
  const secret = c.kind === 'anonymous' ? '' : c.kind === 'basic' ? `${c.username}:${c.password}` : c.token;
  return `${c.kind}:${createHash('sha256').update(secret).digest('hex').slice(0, 32)}`;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Keeps what registries asked for (per origin) and the tokens obtained; one per client. */
export class Authorizer {
  readonly #transport: HttpTransport;
  readonly #now: () => number;
  readonly #clientId: string;
  readonly #timeoutMs: number | undefined;
  readonly #plainHttpHosts: ReadonlySet<string>;
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, Promise<Token>>();

  constructor(transport: HttpTransport, options: AuthorizerOptions = {}) {
    this.#transport = transport;
    this.#now = options.now ?? Date.now;
    this.#clientId = options.clientId ?? 'berth';
    this.#timeoutMs = options.timeoutMs;
    this.#plainHttpHosts = options.plainHttpHosts ?? new Set();
  }

  /**
   * The Authorization header for a request to `origin` needing `scope`, from what the registry
   * asked for before; undefined when nothing is known (send the request bare and see).
   */
  async authorization(origin: string, scope: string, creds: Credentials, signal?: AbortSignal): Promise<string | undefined> {
    if (creds.kind === 'registry-token') return `Bearer ${creds.token}`;
    const challenge = this.#challenges.get(origin);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') return creds.kind === 'basic' ? basic(creds.username, creds.password) : undefined;
    const token = await this.#token(challenge, scope, creds, signal);
    return `Bearer ${token}`;
  }

  /**
   * Learns from a 401: keeps the challenge for `origin` and forgets the token just refused.
   * Returns false when the registry offers no scheme that these credentials can answer.
   */
  challenged(origin: string, header: string | string[] | undefined, scope: string, creds: Credentials): boolean {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm !== undefined);
    const basicChallenge = challenges.find((c) => c.scheme === 'basic');
    const chosen = bearer ?? (basicChallenge !== undefined && creds.kind === 'basic' ? basicChallenge : undefined);
    const previous = this.#challenges.get(origin);
    if (previous?.scheme === 'bearer') this.#tokens.delete(this.#tokenKey(previous, scope, creds));
    if (chosen === undefined) {
      this.#challenges.delete(origin);
      return false;
    }
    this.#challenges.set(origin, chosen);
    if (chosen.scheme === 'bearer') this.#tokens.delete(this.#tokenKey(chosen, scope, creds));
    return true;
  }

  /** Forgets every challenge and token. */
  clear(): void {
    this.#challenges.clear();
    this.#tokens.clear();
  }

  #tokenKey(c: Challenge, scope: string, creds: Credentials): string {
    return [c.params.realm ?? '', c.params.service ?? '', scope, credentialsKey(creds)].join('\n');
  }

  async #token(challenge: Challenge, scope: string, creds: Credentials, signal?: AbortSignal): Promise<string> {
    const key = this.#tokenKey(challenge, scope, creds);
    const cached = this.#tokens.get(key);
    if (cached !== undefined) {
      try {
        const t = await cached;
        if (t.expiresAt - EXPIRY_MARGIN_MS > this.#now()) return t.value;
      } catch {
        // a failed fetch is not kept; fall through and try again
      }
      if (this.#tokens.get(key) === cached) this.#tokens.delete(key);
    }
    const pending = this.#fetchToken(challenge, scope, creds, signal);
    this.#tokens.set(key, pending);
    try {
      return (await pending).value;
    } catch (e) {
      if (this.#tokens.get(key) === pending) this.#tokens.delete(key);
      throw e;
    }
  }

  async #fetchToken(challenge: Challenge, scope: string, creds: Credentials, signal?: AbortSignal): Promise<Token> {
    const realmText = challenge.params.realm!;
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch (e) {
      throw unavailable('bad-auth-challenge', `the registry sent an invalid token realm "${realmText}"`, { cause: e });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw unavailable('bad-auth-challenge', `the registry sent an unsupported token realm "${realmText}"`);
    }
    // The registry names the realm: it must not be a way to get the credentials in the clear.
    checkCredentialsTransport(realm, creds, this.#plainHttpHosts);
    const service = challenge.params.service;
    if (creds.kind === 'identity-token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: this.#clientId });
      if (service !== undefined) form.set('service', service);
      form.set('scope', scope);
      const res = await this.#transport.send({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/json' },
        body: form.toString(),
        signal,
        ...this.#timeout(),
      });
      // Token servers without OAuth2 answer POST with one of these; then ask by GET.
      if (![400, 401, 404, 405].includes(res.status)) return this.#tokenFrom(res, realm, creds);
      res.body.resume();
    }
    const url = new URL(realm);
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.append('scope', scope);
    const authorization =
      creds.kind === 'basic' ? basic(creds.username, creds.password) : creds.kind === 'identity-token' ? basic('', creds.token) : undefined;
    const res = await this.#transport.send({
      method: 'GET',
      url,
      headers: { accept: 'application/json' },
      ...(authorization === undefined ? {} : { authorization }),
      signal,
      ...this.#timeout(),
    });
    return this.#tokenFrom(res, realm, creds);
  }

  #timeout(): { timeoutMs?: number } {
    return this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs };
  }

  async #tokenFrom(res: Awaited<ReturnType<HttpTransport['send']>>, realm: URL, creds: Credentials): Promise<Token> {
    if (res.status === 401 || res.status === 403) {
      const body = await readErrorBody(res.body);
      const why =
        creds.kind === 'anonymous'
          ? 'it requires credentials and none were given'
          : 'the credentials were rejected (wrong username, password or token?)';
      throw unauthenticated('registry-unauthorized', `authentication at ${redact(realm.href)} failed: ${why} (HTTP ${res.status})`, {
        fields: { status: res.status, realm: realm.href, ...(body === '' ? {} : { body: body.slice(0, 512) }) },
      });
    }
    if (res.status < 200 || res.status > 299) {
      const body = await readErrorBody(res.body);
      throw statusError(res.status, { object: 'token', subject: 'token', url: realm.href, body });
    }
    const bytes = await readBody(res.body, realm.href, 1024 * 1024);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
    } catch (e) {
      throw unavailable('bad-token-response', `the token server at ${redact(realm.href)} did not answer JSON`, { cause: e });
    }
    const value =
      typeof parsed.access_token === 'string' && parsed.access_token !== ''
        ? parsed.access_token
        : typeof parsed.token === 'string' && parsed.token !== ''
          ? parsed.token
          : undefined;
    if (value === undefined) {
      throw unavailable('bad-token-response', `the token server at ${redact(realm.href)} sent no token`);
    }
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    const issued = typeof parsed.issued_at === 'string' ? Date.parse(parsed.issued_at) : Number.NaN;
    const now = this.#now();
    // Trust the server's clock only if it roughly agrees with ours.
    const start = Number.isFinite(issued) && Math.abs(issued - now) < 5 * 60_000 ? issued : now;
    return { value, expiresAt: start + seconds * 1000 };
  }
}
