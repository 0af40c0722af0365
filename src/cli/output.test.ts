import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, formatStructured, formatTable, humanSize } from './output.ts';

test('tables align columns', () => {
  assert.equal(
    formatTable(
      ['IMAGE', 'TAG'],
      [
        ['busybox', 'latest'],
        ['a', 'b'],
      ],
    ),
    'IMAGE     TAG\nbusybox   latest\na         b\n',
  );
});

test('sizes and ages read like crictl', () => {
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1_234_567), '1.23MB');
  const now = 1_000_000_000_000;
  assert.equal(ago(BigInt(now - 5000) * 1_000_000n, now), '5 seconds ago');
  assert.equal(ago(BigInt(now - 3_600_000) * 1_000_000n, now), 'About an hour ago');
});

test('structured output turns bigints into numbers', () => {
  assert.equal(formatStructured({ a: 5n }, 'json'), '{\n  "a": 5\n}\n');
  assert.equal(formatStructured({ a: 5n }, 'yaml'), 'a: 5\n');
});
