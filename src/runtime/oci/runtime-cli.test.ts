import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyRuntimeError, runtimeErrorMessage, signalArgument } from './runtime-cli.ts';

test('runtimeErrorMessage reads JSON logs, text logs and plain text', () => {
  assert.equal(
    runtimeErrorMessage('{"level":"error","msg":"container does not exist","time":"2026-01-01T00:00:00Z"}\n'),
    'container does not exist',
  );
  assert.equal(
    runtimeErrorMessage(
      '{"level":"warning","msg":"ignored"}\n{"msg":"error opening file `/r/x/status`: No such file or directory","level":"error"}',
    ),
    'error opening file `/r/x/status`: No such file or directory',
  );
  assert.equal(runtimeErrorMessage('time="2026-01-01T00:00:00Z" level=error msg="exec: \\"sh\\": not found"\n'), 'exec: "sh": not found');
  assert.equal(runtimeErrorMessage('plain failure\n'), 'plain failure');
  // runc logs the error and repeats it on stderr: once is enough.
  assert.equal(runtimeErrorMessage('{"level":"error","msg":"boom"}\nboom\n'), 'boom');
  assert.equal(runtimeErrorMessage(''), '');
});

test('classifyRuntimeError maps runtime messages to error kinds', () => {
  const kind = (m: string) => classifyRuntimeError('start', 'c1', m, 'runc').kind;
  assert.equal(kind('container does not exist'), 'not-found');
  assert.equal(kind('error opening file `/run/crun/c1/status`: No such file or directory'), 'not-found');
  assert.equal(kind('container not running'), 'failed-precondition');
  assert.equal(kind('cannot start a container that has stopped'), 'failed-precondition');
  assert.equal(kind('cannot delete container c1 that is not stopped: running'), 'failed-precondition');
  assert.equal(kind('something else broke'), 'internal');
  const e = classifyRuntimeError('kill', 'c1', 'container not running', 'runc');
  assert.equal(e.message, 'runc kill c1: container not running');
  assert.deepEqual(e.fields, { id: 'c1', command: 'kill', runtimeMessage: 'container not running' });
});

test('signalArgument gives names runc and crun accept', () => {
  assert.equal(signalArgument('SIGTERM'), 'TERM');
  assert.equal(signalArgument('KILL' as NodeJS.Signals), 'KILL');
  assert.equal(signalArgument(9), '9');
});
