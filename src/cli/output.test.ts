import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStructured, formatTable, humanSize } from './output.ts';

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

test('sizes read like crictl', () => {
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1_234_567), '1.23MB');
});

test('structured output turns bigints into numbers', () => {
  assert.equal(formatStructured({ a: 5n }, 'json'), '{\n  "a": 5\n}\n');
  assert.equal(formatStructured({ a: 5n }, 'yaml'), 'a: 5\n');
});
