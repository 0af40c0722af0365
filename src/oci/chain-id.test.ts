import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainIds } from './chain-id.ts';
import { type Digest, sha256Digest } from './digest.ts';

test('the first chainID is the diffID; the next hashes "parent diffID"', () => {
  const a = sha256Digest('a');
  const b = sha256Digest('b');
  const [c0, c1] = chainIds([a, b] as Digest[]);
  assert.equal(c0, a);
  assert.equal(c1, sha256Digest(`${a} ${b}`));
  assert.deepEqual(chainIds([]), []);
});
