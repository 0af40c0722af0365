import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isQuantity, milliValue, parseQuantity, wholeValue } from './quantity.ts';

test('decimal, binary and exponent forms', () => {
  assert.equal(parseQuantity('1'), 1);
  assert.equal(parseQuantity('100m'), 0.1);
  assert.equal(parseQuantity('1.5'), 1.5);
  assert.equal(parseQuantity('128Mi'), 128 * 1024 * 1024);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('1e3'), 1000);
  assert.equal(parseQuantity(2), 2);
});

test('milli and whole values round up', () => {
  assert.equal(milliValue('250m'), 250);
  assert.equal(milliValue('0.5'), 500);
  assert.equal(milliValue('1n'), 1);
  assert.equal(wholeValue('1.2'), 2);
  assert.equal(wholeValue('64Mi'), 67108864);
});

test('rejects what is not a quantity', () => {
  assert.equal(isQuantity('12 Mi'), false);
  assert.equal(isQuantity('abc'), false);
  assert.equal(isQuantity('1Mi'), true);
  assert.throws(() => parseQuantity('1 cpu'), /not a resource quantity/);
});
