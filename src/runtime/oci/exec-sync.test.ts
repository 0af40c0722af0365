import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execProcessSpec } from './exec-sync.ts';

test('execProcessSpec takes the container process, replaces argv, merges env, drops the terminal', () => {
  const base = {
    args: ['nginx'],
    env: ['PATH=/bin', 'A=1'],
    terminal: true,
    consoleSize: { height: 1, width: 2 },
    cwd: '/srv',
    user: { uid: 5, gid: 5 },
  };
  const spec = execProcessSpec(base, ['echo', 'hi'], ['A=2', 'B=3']);
  assert.deepEqual(spec, {
    args: ['echo', 'hi'],
    env: ['PATH=/bin', 'A=2', 'B=3'],
    terminal: false,
    cwd: '/srv',
    user: { uid: 5, gid: 5 },
  });
  assert.deepEqual(base.args, ['nginx'], 'the original is untouched');
});
