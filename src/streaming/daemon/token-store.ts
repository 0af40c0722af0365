// Single-use tokens for streaming URLs, as the kubelet's request cache hands them out: Exec, Attach
// and PortForward store their request and answer with a URL that carries a random token; the first
// connection to that URL consumes it. Unused tokens expire after a TTL; at most `maxInFlight` wait
// at once.
import { randomBytes } from 'node:crypto';
import { invalidArgument, resourceExhausted } from '../../errors/errors.ts';

export interface TokenStoreOptions {
  /** How long a token stays valid if unused. The kubelet's default is one minute. */
  ttlMs: number;
  /** How many unused tokens may wait at once. The kubelet allows 1000. */
  maxInFlight?: number;
  /** For tests: the clock, in ms. */
  now?: () => number;
}

export type ConsumeResult<T> = { ok: true; value: T } | { ok: false; reason: 'unknown' | 'expired' };

/** 16 random bytes, URL-safe: 22 characters. */
const TOKEN_BYTES = 16;

export class TokenStore<T> {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Insertion order is expiry order: the TTL is the same for all. */
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(options: TokenStoreOptions) {
    if (!(options.ttlMs > 0)) throw invalidArgument('bad-streaming-config', 'token TTL must be positive');
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxInFlight ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Tokens issued and neither consumed nor expired. */
  get size(): number {
    this.#gc();
    return this.#entries.size;
  }

  insert(value: T): string {
    this.#gc();
    if (this.#entries.size >= this.#max) {
      throw resourceExhausted('too-many-streams-in-flight', `too many streaming requests in flight (${this.#max}); try again later`, {
        fields: { maxInFlight: this.#max },
      });
    }
    let token: string;
    do token = randomBytes(TOKEN_BYTES).toString('base64url');
    while (this.#entries.has(token));
    this.#entries.set(token, { value, expiresAt: this.#now() + this.#ttlMs });
    return token;
  }

  /** Takes the request out: a token works once, and only before it expires. */
  consume(token: string): ConsumeResult<T> {
    const entry = this.#entries.get(token);
    if (entry === undefined) return { ok: false, reason: 'unknown' };
    this.#entries.delete(token);
    if (this.#now() > entry.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, value: entry.value };
  }

  /**
   * Drops expired tokens. An expired token that was never presented stays known until then, so
   * that a late client hears "expired" rather than "unknown"; after that it is just unknown.
   */
  #gc(): void {
    const now = this.#now();
    for (const [token, entry] of this.#entries) {
      if (entry.expiresAt >= now) break;
      this.#entries.delete(token);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
