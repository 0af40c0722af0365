// Checking content against its descriptor: digest and size. Failures are failed-precondition
// `digest-mismatch` / `size-mismatch`, never worth retrying against another mirror.

import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import type { BerthError } from '../../errors/errors.ts';
import { failedPrecondition } from '../../errors/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import { digestAlgorithm } from '../../oci/digest.ts';

export interface Expected {
  digest: Digest;
  size?: number;
}

/** Digest of `bytes` with the given algorithm (sha256 by default). */
export function digestOf(bytes: Uint8Array | string, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

export function digestMismatch(expected: Digest, actual: Digest, what: string): BerthError {
  return failedPrecondition('digest-mismatch', `${what} has digest ${actual}, expected ${expected}`, {
    fields: { expected, actual },
  });
}

export function sizeMismatch(expected: number, actual: number, what: string): BerthError {
  return failedPrecondition('size-mismatch', `${what} has ${actual} bytes, expected ${expected}`, {
    fields: { expected, actual },
  });
}

/** Throws unless `bytes` have the expected digest (and size, if given). */
export function verifyBytes(bytes: Uint8Array, expected: Expected, what = 'content'): void {
  if (expected.size !== undefined && bytes.byteLength !== expected.size) {
    throw sizeMismatch(expected.size, bytes.byteLength, what);
  }
  const actual = digestOf(bytes, digestAlgorithm(expected.digest));
  if (actual !== expected.digest) throw digestMismatch(expected.digest, actual, what);
}

/** Incremental digest and size check, for content that arrives in chunks. */
export class DigestVerifier {
  readonly expected: Expected;
  readonly what: string;
  #hash: Hash;
  #bytes = 0;

  constructor(expected: Expected, what = 'content') {
    this.expected = expected;
    this.what = what;
    this.#hash = createHash(digestAlgorithm(expected.digest));
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Adds a chunk; throws size-mismatch as soon as the content is longer than expected. */
  update(chunk: Uint8Array): void {
    this.#bytes += chunk.byteLength;
    if (this.expected.size !== undefined && this.#bytes > this.expected.size) {
      throw sizeMismatch(this.expected.size, this.#bytes, this.what);
    }
    this.#hash.update(chunk);
  }

  /** Call once at the end: throws size-mismatch or digest-mismatch. */
  verify(): void {
    if (this.expected.size !== undefined && this.#bytes !== this.expected.size) {
      throw sizeMismatch(this.expected.size, this.#bytes, this.what);
    }
    const actual = `${digestAlgorithm(this.expected.digest)}:${this.#hash.digest('hex')}` as Digest;
    if (actual !== this.expected.digest) throw digestMismatch(this.expected.digest, actual, this.what);
  }
}

/** Passes chunks through; throws at the end (or early, when too long) if they do not match. */
export async function* verifyStream(source: AsyncIterable<Uint8Array>, expected: Expected, what = 'content'): AsyncGenerator<Uint8Array> {
  const v = new DigestVerifier(expected, what);
  for await (const chunk of source) {
    v.update(chunk);
    yield chunk;
  }
  v.verify();
}
