import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachResolved, infoMapLine, matchesRegex, sortedMapLines, statusJsonWithTimes } from './resource-commands.ts';

test('matchesRegex: unset or empty matches all, an invalid pattern matches nothing', () => {
  assert.equal(matchesRegex(undefined, 'web'), true);
  assert.equal(matchesRegex('', 'web'), true);
  assert.equal(matchesRegex('^we', 'web'), true);
  assert.equal(matchesRegex('^db', 'web'), false);
  assert.equal(matchesRegex('(', 'web'), false);
});

test('sortedMapLines: sorted tab-indented lines under a title, nothing for an empty map', () => {
  assert.equal(sortedMapLines('Labels', { b: '2', a: '1' }), 'Labels:\n\ta -> 1\n\tb -> 2\n');
  assert.equal(sortedMapLines('Annotations', {}), '');
});

test('infoMapLine: Go map formatting with sorted keys', () => {
  assert.equal(infoMapLine({ z: 'last', info: '{"pid":1}' }), 'Info: map[info:{"pid":1} z:last]\n');
  assert.equal(infoMapLine({}), 'Info: map[]\n');
});

test('statusJsonWithTimes: keeps key order, replaces only present time fields, sorts nested keys', () => {
  const out = statusJsonWithTimes({ id: 'x', createdAt: '1', labels: { b: '2', a: '1' } }, { createdAt: 'T', startedAt: 'S' });
  assert.equal(JSON.stringify(out), '{"id":"x","createdAt":"T","labels":{"a":"1","b":"2"}}');
});

test('forEachResolved: runs in order with the names as given, and stops at the first failure', async () => {
  const seen: string[] = [];
  await forEachResolved(
    ['ab', 'cd'],
    async (prefixes) => prefixes.map((p) => `${p}-full`),
    async (id, name) => {
      seen.push(`${name}=${id}`);
    },
  );
  assert.deepEqual(seen, ['ab=ab-full', 'cd=cd-full']);
  seen.length = 0;
  await assert.rejects(
    forEachResolved(
      ['a', 'b', 'c'],
      async (prefixes) => prefixes,
      async (id) => {
        if (id === 'b') throw new Error('boom');
        seen.push(id);
      },
    ),
    /boom/,
  );
  assert.deepEqual(seen, ['a']);
});
