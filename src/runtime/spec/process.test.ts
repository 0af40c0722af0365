import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { DEFAULT_PATH_ENV } from './defaults.ts';
import { mergeEnv, processArgs, processCwd, processEnv } from './process.ts';

const image = { Entrypoint: ['/entry', '-v'], Cmd: ['serve', '--port=80'] };

test('command and args merge with Entrypoint and Cmd as containerd does', () => {
  // Nothing from CRI: Entrypoint + Cmd.
  assert.deepEqual(processArgs([], [], image), ['/entry', '-v', 'serve', '--port=80']);
  assert.deepEqual(processArgs(undefined, undefined, image), ['/entry', '-v', 'serve', '--port=80']);
  // args replace Cmd, Entrypoint stays.
  assert.deepEqual(processArgs([], ['run'], image), ['/entry', '-v', 'run']);
  // command replaces Entrypoint and drops Cmd.
  assert.deepEqual(processArgs(['/bin/sh'], [], image), ['/bin/sh']);
  // command and args: both from CRI.
  assert.deepEqual(processArgs(['/bin/sh'], ['-c', 'true'], image), ['/bin/sh', '-c', 'true']);
  // Only Cmd in the image.
  assert.deepEqual(processArgs([], [], { Cmd: ['/bin/sh'] }), ['/bin/sh']);
  assert.deepEqual(processArgs([], ['x'], { Cmd: ['/bin/sh'] }), ['x']);
  // Entrypoint [""] counts as none (Docker's way of resetting it).
  assert.deepEqual(processArgs([], [], { Entrypoint: [''], Cmd: ['/bin/sh'] }), ['/bin/sh']);
  // null from JSON.
  assert.deepEqual(processArgs([], [], { Entrypoint: null, Cmd: ['a'] }), ['a']);
  assert.throws(
    () => processArgs([], [], {}),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'no-command',
  );
});

test('env: default PATH, HOSTNAME, image env, then CRI env, later wins in place', () => {
  assert.deepEqual(processEnv({}, [], { hostname: 'pod-a' }), [DEFAULT_PATH_ENV, 'HOSTNAME=pod-a']);
  const env = processEnv(
    { Env: ['PATH=/custom/bin', 'A=1', 'B=2'] },
    [
      { key: 'B', value: 'cri' },
      { key: 'C', value: 'x=y' },
    ],
    { hostname: 'h', tty: true },
  );
  assert.deepEqual(env, ['PATH=/custom/bin', 'TERM=xterm', 'HOSTNAME=h', 'A=1', 'B=cri', 'C=x=y']);
  // An image cannot unset HOSTNAME by accident, but "KEY" without "=" removes a variable.
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['A', 'C=3']), ['B=2', 'C=3']);
  assert.deepEqual(mergeEnv(['A=1', 'A=2'], []), ['A=2']);
});

test('cwd: CRI, then image, then /', () => {
  assert.equal(processCwd('/app', { WorkingDir: '/img' }), '/app');
  assert.equal(processCwd('', { WorkingDir: '/img' }), '/img');
  assert.equal(processCwd(undefined, {}), '/');
  assert.throws(
    () => processCwd('relative', {}),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});
