// Content digests as the OCI image spec defines them: `algorithm:hex`.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors/errors.ts';

export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

export function parseDigest(value: string): Digest {
  if (!DIGEST_RE.test(value)) throw invalidArgument('bad-digest', `invalid digest "${value}"`, { fields: { digest: value } });
  return value as Digest;
}

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export function digestAlgorithm(d: Digest): 'sha256' | 'sha512' {
  return d.slice(0, d.indexOf(':')) as 'sha256' | 'sha512';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}
