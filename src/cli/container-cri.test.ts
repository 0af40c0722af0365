import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { intFlag, parseLabels, resolvePrefix, withContext } from './container-cri.ts';

const ids = ['716dc2cf74680bb8', '716e000000000000', '98d55eae498d40fa'];

test('an ID prefix names the one ID that starts with it', () => {
  assert.equal(resolvePrefix('98d', ids, 'container'), '98d55eae498d40fa');
  assert.equal(resolvePrefix('716dc', ids, 'container'), '716dc2cf74680bb8');
  // A full ID is itself, even when it is also the prefix of another.
  assert.equal(resolvePrefix('716dc2cf74680bb8', [...ids, '716dc2cf74680bb8ff'], 'container'), '716dc2cf74680bb8');
});

test('an ambiguous prefix is an error naming the candidates; an unknown one goes to the runtime as it is', () => {
  assert.throws(
    () => resolvePrefix('716', ids, 'pod sandbox'),
    (e: unknown) =>
      isBerthError(e, 'invalid-argument') &&
      /pod sandbox ID prefix "716" is ambiguous: it matches 716dc2cf74680, 716e000000000/.test(e.message),
  );
  assert.equal(resolvePrefix('abc', ids, 'container'), 'abc');
  assert.equal(resolvePrefix('', ids, 'container'), '');
});

test('labels, integers and error context', () => {
  assert.deepEqual(parseLabels(['app=web', 'expr=a=b']), { app: 'web', expr: 'a=b' });
  assert.deepEqual(parseLabels(undefined), {});
  assert.throws(() => parseLabels(['novalue']), /incorrectly specified label/);
  assert.equal(intFlag('-1', 'tail', 0), -1);
  assert.equal(intFlag(undefined, 'tail', 7), 7);
  assert.throws(() => intFlag('ten', 'tail', 0), /--tail: expected an integer/);
  const e = withContext(Object.assign(new Error('not found'), {}), 'stopping the container "x"');
  assert.equal(e.message, 'stopping the container "x": not found');
});
