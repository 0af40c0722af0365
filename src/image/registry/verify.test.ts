import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import { sha256Digest } from '../../oci/digest.ts';
import { DigestVerifier, digestOf, verifyBytes, verifyStream } from './verify.ts';

const data = new TextEncoder().encode('hello, registry');
const good = sha256Digest(data);
const wrong = sha256Digest('other');
const mismatch = (code: string) => (e: unknown) => isBerthError(e, 'failed-precondition') && e.code === code;

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of it) n += c.byteLength;
  return n;
}
async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

test('digestOf and verifyBytes', () => {
  assert.equal(digestOf(data), good);
  assert.match(digestOf(data, 'sha512'), /^sha512:[0-9a-f]{128}$/);
  verifyBytes(data, { digest: good, size: data.byteLength });
  verifyBytes(data, { digest: digestOf(data, 'sha512') as Digest });
  assert.throws(() => verifyBytes(data, { digest: wrong }), mismatch('digest-mismatch'));
  assert.throws(() => verifyBytes(data, { digest: good, size: 3 }), mismatch('size-mismatch'));
});

test('DigestVerifier and verifyStream', async () => {
  const v = new DigestVerifier({ digest: good, size: data.byteLength });
  v.update(data.subarray(0, 5));
  v.update(data.subarray(5));
  v.verify();
  assert.equal(v.bytes, data.byteLength);
  assert.equal(await drain(verifyStream(chunks(data.subarray(0, 2), data.subarray(2)), { digest: good })), data.byteLength);
  await assert.rejects(drain(verifyStream(chunks(data), { digest: wrong })), mismatch('digest-mismatch'));
  await assert.rejects(drain(verifyStream(chunks(data, data), { digest: good, size: data.byteLength })), mismatch('size-mismatch'));
  await assert.rejects(drain(verifyStream(chunks(data.subarray(1)), { digest: good, size: data.byteLength })), mismatch('size-mismatch'));
});
