import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandVariables } from './var-expansion.ts';

const vars = new Map([
  ['VAR_A', 'A'],
  ['VAR_B', 'B'],
  ['EMPTY', ''],
]);
const expand = (s: string) => expandVariables(s, (name) => vars.get(name));

// Cases from the Kubernetes expansion tests.
test('expands defined references', () => {
  assert.equal(expand('$(VAR_A)'), 'A');
  assert.equal(expand('___$(VAR_B)___'), '___B___');
  assert.equal(expand('$(VAR_A)-$(VAR_B)'), 'A-B');
  assert.equal(expand('$(EMPTY)x'), 'x');
});

test('keeps undefined references as written', () => {
  assert.equal(expand('$(VAR_DOES_NOT_EXIST)'), '$(VAR_DOES_NOT_EXIST)');
  assert.equal(expand('$()'), '$()');
});

test('$$ escapes a dollar', () => {
  assert.equal(expand('$$(VAR_A)'), '$(VAR_A)');
  assert.equal(expand('$$$(VAR_A)'), '$A');
  assert.equal(expand('$$$$(VAR_A)'), '$$(VAR_A)');
  assert.equal(expand('f000-$$VAR_A'), 'f000-$VAR_A');
});

test('a lone or unclosed operator stays', () => {
  assert.equal(expand('$'), '$');
  assert.equal(expand('foo$'), 'foo$');
  assert.equal(expand('$(VAR_A'), '$(VAR_A');
  assert.equal(expand('$VAR_A'), '$VAR_A');
  assert.equal(expand('$(VAR_A)$'), 'A$');
  // The name runs to the first `)`: `$(VAR_A` is unknown, so the text stays.
  assert.equal(expand('$($(VAR_A))'), '$($(VAR_A))');
});

test('plain text passes through', () => {
  assert.equal(expand('hello world'), 'hello world');
  assert.equal(expand(''), '');
});
