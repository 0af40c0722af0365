// spawnConmon's side of the sync-pipe protocol, against a stand-in for conmon written in sh that
// writes to fd 3 (_OCI_SYNCPIPE) what conmon would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { ConmonCreateError, parseSyncMessage, spawnConmon } from './conmon-spawn.ts';

const fake = (script: string, timeoutMs = 5000, signal?: AbortSignal) =>
  spawnConmon({ conmonPath: '/bin/sh', args: ['-c', script], cwd: '/', env: { PATH: '/usr/bin:/bin' }, timeoutMs, signal });

test('parseSyncMessage reads conmon API 1 and legacy messages', () => {
  assert.deepEqual(parseSyncMessage('{"data": 42}'), { data: 42, message: undefined });
  assert.deepEqual(parseSyncMessage('{"data": -1, "message": "boom\\n"}'), { data: -1, message: 'boom\n' });
  assert.deepEqual(parseSyncMessage('{"pid": 7}'), { data: 7, message: undefined });
  assert.equal(parseSyncMessage('nope'), undefined);
});

test('the pid arrives on fd 3 named by _OCI_SYNCPIPE', async () => {
  const r = await fake('[ "$_OCI_SYNCPIPE" = 3 ] && echo \'{"data": 4242}\' >&3');
  assert.equal(r.containerPid, 4242);
  assert.ok(r.syncMs >= 0 && r.forkMs >= 0);
});

test('a runtime failure comes back with its message', async () => {
  await assert.rejects(fake('printf \'{"data": -1, "message": "runc create failed: bad thing\\\\n"}\\n\' >&3; exit 1'), (e: unknown) => {
    assert.ok(e instanceof ConmonCreateError);
    assert.equal(e.runtimeMessage, 'runc create failed: bad thing');
    return true;
  });
});

test('conmon exiting without a message is an error with its output', async () => {
  await assert.rejects(fake('echo "conmon: option parsing failed" >&2; exit 1'), (e: unknown) => {
    assert.ok(isBerthError(e, 'internal'));
    assert.match(e.message, /option parsing failed/);
    return true;
  });
});

test('a create that takes too long times out; an abort cancels', async () => {
  await assert.rejects(fake('sleep 5', 200), (e: unknown) => isBerthError(e, 'deadline-exceeded'));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(fake('sleep 5', 5000, ac.signal), (e: unknown) => isBerthError(e, 'cancelled'));
  await assert.rejects(
    spawnConmon({ conmonPath: '/no/such/conmon', args: [], cwd: '/', env: {}, timeoutMs: 1000 }),
    (e: unknown) => isBerthError(e, 'internal') && /cannot run/.test(e.message),
  );
});
